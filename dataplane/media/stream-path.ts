/**
 * The one rule for a stream path (`live/cam`), used by the hub, the players, the
 * cascade links, the YAML config and the pull-rule API alike: whatever one of them
 * accepts, the others accept too. Pure: no imports, so the config loader can use it
 * without loading the media server.
 */

const SEGMENT = /^[A-Za-z0-9_~-][A-Za-z0-9_.~-]*$/;

/** True for `app/name` style paths: 2..8 segments of [A-Za-z0-9_.~-], none starting with `.`, ≤ 256 chars. */
export function isValidStreamPath(path: string): boolean {
  if (path.length === 0 || path.length > 256) return false;
  const parts = path.split('/');
  if (parts.length < 2 || parts.length > 8) return false;
  return parts.every((p) => SEGMENT.test(p));
}

/** The scheme of a pull rule's URL: `cascade://live/cam` names stream `live/cam` on the upper node. */
export const CASCADE_URL_SCHEME = 'cascade://';

/** True for `cascade://` followed by a valid stream path. */
export function isValidPullUrl(url: string): boolean {
  return url.startsWith(CASCADE_URL_SCHEME) && isValidStreamPath(url.slice(CASCADE_URL_SCHEME.length));
}
