import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CodedError } from '../../dataplane/errors.js';
import { CascadeError, RelayError } from '../../dataplane/cascade/index.js';
import { InvalidStreamPathError, RtmpChunkError } from '../../dataplane/media/index.js';
import { CloseCode, ProtocolError, closeReason } from '../../dataplane/protocol/index.js';
import { LinkStreamResetError } from '../../dataplane/transport/link.js';
import { AppError, ErrorCatalog, expectedError } from '../../src/errors.js';

describe('one error catalogue', () => {
  test('every error class is a CodedError: its code, its message, its own name', () => {
    const cases: Array<[CodedError<string | number>, string | number, string]> = [
      [new AppError('NOT_FOUND', 'x not found'), 'NOT_FOUND', 'AppError'],
      [new CascadeError('CASCADE_STATE', 'stopped'), 'CASCADE_STATE', 'CascadeError'],
      [new RtmpChunkError('bad chunk'), 'RTMP_CHUNK_MALFORMED', 'RtmpChunkError'],
      [new InvalidStreamPathError('a/../b'), 'STREAM_PATH_INVALID', 'InvalidStreamPathError'],
      [new ProtocolError(CloseCode.FrameTooLarge), CloseCode.FrameTooLarge, 'ProtocolError'],
      [new RelayError(504, 'no answer'), 504, 'RelayError'],
      [new LinkStreamResetError(7), 7, 'LinkStreamResetError'],
    ];
    for (const [err, code, name] of cases) {
      assert.ok(err instanceof CodedError, name);
      assert.ok(err instanceof Error, name);
      assert.equal(err.code, code, name);
      assert.equal(err.name, name);
    }
    assert.equal(new ProtocolError(CloseCode.FrameTooLarge).message, closeReason(CloseCode.FrameTooLarge));
  });

  test('AppError codes map to their HTTP status and envelope code', () => {
    for (const [code, { status, envelope }] of Object.entries(ErrorCatalog)) {
      const e = new AppError(code as keyof typeof ErrorCatalog, 'm');
      assert.equal(e.status, status, code);
      assert.equal(e.envelopeCode, envelope, code);
    }
  });

  test('relay failures reach callers as catalogue codes; anything else is unexpected', () => {
    const app = new AppError('CONFLICT', 'taken');
    assert.equal(expectedError(app), app);
    const cases: Array<[number, string, number]> = [
      [403, 'FORBIDDEN', 403],
      [413, 'PAYLOAD_TOO_LARGE', 413],
      [502, 'BAD_GATEWAY', 502],
      [503, 'UNAVAILABLE', 503],
      [504, 'TIMEOUT', 504],
      [418, 'BAD_GATEWAY', 502],
    ];
    for (const [status, code, http] of cases) {
      const e = expectedError(new RelayError(status, 'relay failed'));
      assert.equal(e?.code, code, String(status));
      assert.equal(e?.status, http, String(status));
      assert.equal(e?.message, 'relay failed');
    }
    for (const other of [new Error('boom'), new CascadeError('CASCADE_CONFIG', 'bad'), new ProtocolError(CloseCode.FrameTooLarge), 'text', null]) {
      assert.equal(expectedError(other), null);
    }
  });
});
