/** The key backend port's implementations: software (sealed key material) and HSM (keys in the token). */
export * from './software-backend.js';
export * from './hsm-key-backend.js';
