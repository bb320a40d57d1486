/**
 * What `npm install` leaves behind is wired together: the compiled program (dist/, what
 * `npm start` runs) loads the native UDP addon from the package's build/Release, the same
 * file the sources use.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BUILT_ADDON, requireInstallBuild } from '../helpers/requirements.js';

test('the compiled program and the sources find the same native UDP addon', requireInstallBuild(), async () => {
  const source = await import('../../dataplane/transport/udp-native-socket.js');
  // dist/ is JavaScript with no types: the path is all we read from it.
  const compiled = (await import(new URL('../../dist/dataplane/transport/udp-native-socket.js', import.meta.url).href)) as {
    DEFAULT_UDP_ADDON_PATH: string;
  };
  const addon = fileURLToPath(BUILT_ADDON);
  assert.equal(source.DEFAULT_UDP_ADDON_PATH, addon);
  assert.equal(compiled.DEFAULT_UDP_ADDON_PATH, addon);
});
