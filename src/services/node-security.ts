/**
 * The security settings in force on this node, as GraphQL `node { security }` shows
 * them: whether each protection is on, never a secret.
 */
import type { Config } from '../config.js';
import { publishAuthOn } from './publish-auth.js';

/** Effective security settings (booleans and limits only). */
export interface NodeSecurity {
  /** `http.token` is set: changes (and subscriptions, /api/relay) need it. */
  adminToken: boolean;
  /** With the token: reads need it too. */
  protectReads: boolean;
  /** No token: REST and GraphQL changes are accepted from this host only. */
  localMutationsOnly: boolean;
  /** `rtmp.publish`: publishing needs a key or the hook's consent. */
  publishAuth: boolean;
  /** `rtmp.publish.hook` is set. */
  publishHook: boolean;
  /** The API relay is on (`cascade-server.relayapi.enable`). */
  relayApi: boolean;
  /** A lower node's Set-Cookie reaches relay callers (`cascade-server.relayapi.allowsetcookie`). */
  relayAllowsSetCookie: boolean;
}

export function nodeSecurity(config: Config): NodeSecurity {
  return {
    adminToken: config.http.token !== null,
    protectReads: config.http.token !== null && config.http.protectReads,
    localMutationsOnly: config.http.token === null,
    publishAuth: publishAuthOn(config.rtmp.publish),
    publishHook: config.rtmp.publish.hook !== null,
    relayApi: config.cascadeServer?.relayApi.enable ?? false,
    relayAllowsSetCookie: config.cascadeServer?.relayApi.allowSetCookie ?? false,
  };
}
