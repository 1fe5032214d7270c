/** The CLI's --server side: a client of the admin API that offers the same services as the local database. */
export { PendingApprovalError } from './api-client.js';
export { remoteOptions } from './options.js';
export { remoteLogin, remoteServices, type RemoteOptions } from './remote-services.js';
