/** ALPN protocol id of the cascade link (PROTOCOL.md §1); the transport offers only this one. */
export const CASCADE_ALPN = 'stream-cascade/1';
