export * from './rfc5424.js';
export * from './syslog-forwarder.js';
