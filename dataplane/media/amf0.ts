/**
 * AMF0 (Action Message Format 0) encoder and decoder, as used by RTMP commands
 * and FLV script tags. Pure: no I/O.
 *
 * Value mapping:
 * - number ↔ Number (0x00), boolean ↔ Boolean (0x01)
 * - string ↔ String (0x02) or Long String (0x0C) when longer than 65535 bytes;
 *   XML Document (0x0F) decodes to a string
 * - plain object ↔ Object (0x03); Typed Object (0x10) decodes to a plain object
 * - {@link Amf0EcmaArray} ↔ ECMA Array (0x08)
 * - array ↔ Strict Array (0x0A)
 * - null ↔ Null (0x05), undefined ↔ Undefined (0x06)
 * - Date ↔ Date (0x0B; the time-zone field is written as 0 and ignored)
 *
 * References (0x07), movie clips and AVM+ (0x11) are rejected with {@link Amf0Error}.
 */
import { Amf0Error } from './errors.js';

/** An AMF0 object: string keys to values. */
export interface Amf0Object {
  [key: string]: Amf0Value;
}

/** An ECMA (associative) array; `onMetaData` is usually sent as one. */
export class Amf0EcmaArray {
  constructor(readonly props: Amf0Object = {}) {}
}

/** Any AMF0 value this codec handles. */
export type Amf0Value =
  | number
  | boolean
  | string
  | null
  | undefined
  | Date
  | Amf0EcmaArray
  | Amf0Value[]
  | Amf0Object;

/** Nesting limit for objects/arrays, so hostile input cannot exhaust the stack. */
const AMF0_MAX_DEPTH = 64;

const T_NUMBER = 0x00;
const T_BOOLEAN = 0x01;
const T_STRING = 0x02;
const T_OBJECT = 0x03;
const T_NULL = 0x05;
const T_UNDEFINED = 0x06;
const T_ECMA_ARRAY = 0x08;
const T_OBJECT_END = 0x09;
const T_STRICT_ARRAY = 0x0a;
const T_DATE = 0x0b;
const T_LONG_STRING = 0x0c;
const T_XML = 0x0f;
const T_TYPED_OBJECT = 0x10;

const textDecoder = new TextDecoder('utf-8', { fatal: false });
const textEncoder = new TextEncoder();

/** Properties of an object or ECMA array value, or undefined for other values. */
export function amf0Props(v: Amf0Value): Amf0Object | undefined {
  if (v instanceof Amf0EcmaArray) return v.props;
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)) return v;
  return undefined;
}

// ---------------------------------------------------------------- decoding

class Reader {
  pos = 0;
  private readonly view: DataView;
  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  need(n: number): void {
    if (this.pos + n > this.buf.length) throw new Amf0Error('truncated AMF0 data', 'AMF0_TRUNCATED');
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++] as number;
  }
  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos);
    this.pos += 8;
    return v;
  }
  str(len: number): string {
    this.need(len);
    const s = textDecoder.decode(this.buf.subarray(this.pos, this.pos + len));
    this.pos += len;
    return s;
  }
}

function readProps(r: Reader, depth: number, into: Amf0Object): void {
  for (;;) {
    const keyLen = r.u16();
    if (keyLen === 0) {
      // Empty key: the object-end marker must follow.
      const marker = r.u8();
      if (marker !== T_OBJECT_END) throw new Amf0Error('expected AMF0 object-end marker');
      return;
    }
    const key = r.str(keyLen);
    const value = readValue(r, depth + 1);
    // Never let input set a prototype.
    Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
  }
}

function readValue(r: Reader, depth: number): Amf0Value {
  if (depth > AMF0_MAX_DEPTH) throw new Amf0Error('AMF0 nesting too deep', 'AMF0_TOO_DEEP');
  const type = r.u8();
  switch (type) {
    case T_NUMBER:
      return r.f64();
    case T_BOOLEAN:
      return r.u8() !== 0;
    case T_STRING:
      return r.str(r.u16());
    case T_LONG_STRING:
    case T_XML:
      return r.str(r.u32());
    case T_OBJECT: {
      const o: Amf0Object = {};
      readProps(r, depth, o);
      return o;
    }
    case T_TYPED_OBJECT: {
      r.str(r.u16()); // class name, dropped
      const o: Amf0Object = {};
      readProps(r, depth, o);
      return o;
    }
    case T_ECMA_ARRAY: {
      r.u32(); // approximate count; the object-end marker is authoritative
      const o: Amf0Object = {};
      readProps(r, depth, o);
      return new Amf0EcmaArray(o);
    }
    case T_STRICT_ARRAY: {
      const n = r.u32();
      // Every element is at least one byte: a count beyond the input is malformed.
      if (n > r.buf.length - r.pos) throw new Amf0Error('AMF0 strict array count exceeds data', 'AMF0_TRUNCATED');
      const a: Amf0Value[] = new Array<Amf0Value>(n);
      for (let i = 0; i < n; i++) a[i] = readValue(r, depth + 1);
      return a;
    }
    case T_DATE: {
      const ms = r.f64();
      r.u16(); // time zone, ignored per spec
      return new Date(ms);
    }
    case T_NULL:
      return null;
    case T_UNDEFINED:
      return undefined;
    case T_OBJECT_END:
      throw new Amf0Error('unexpected AMF0 object-end marker');
    default:
      throw new Amf0Error(`unsupported AMF0 type 0x${type.toString(16)}`, 'AMF0_UNSUPPORTED_TYPE');
  }
}

/**
 * Decode every AMF0 value in `buf` (an RTMP command or a script tag body is a
 * sequence of values). Throws {@link Amf0Error} on malformed input.
 */
export function decodeAmf0(buf: Uint8Array): Amf0Value[] {
  const r = new Reader(buf);
  const out: Amf0Value[] = [];
  while (r.pos < buf.length) out.push(readValue(r, 0));
  return out;
}

/** Decode exactly one value at `offset`; returns it and the offset after it. */
export function decodeAmf0Value(buf: Uint8Array, offset = 0): { value: Amf0Value; end: number } {
  const r = new Reader(buf);
  r.pos = offset;
  const value = readValue(r, 0);
  return { value, end: r.pos };
}

// ---------------------------------------------------------------- encoding

class Writer {
  buf = new Uint8Array(256);
  view = new DataView(this.buf.buffer);
  pos = 0;
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }
  u16(v: number): void {
    this.ensure(2);
    this.view.setUint16(this.pos, v);
    this.pos += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, v);
    this.pos += 4;
  }
  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v);
    this.pos += 8;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
}

function writeKey(w: Writer, key: string): void {
  const b = textEncoder.encode(key);
  if (b.length > 0xffff) throw new Amf0Error('AMF0 property name longer than 65535 bytes', 'AMF0_UNENCODABLE');
  w.u16(b.length);
  w.bytes(b);
}

function writeProps(w: Writer, o: Amf0Object, depth: number): void {
  for (const key of Object.keys(o)) {
    if (key.length === 0) continue; // an empty key would read as object end
    writeKey(w, key);
    writeValue(w, o[key], depth + 1);
  }
  w.u16(0);
  w.u8(T_OBJECT_END);
}

function writeValue(w: Writer, v: Amf0Value, depth: number): void {
  if (depth > AMF0_MAX_DEPTH) throw new Amf0Error('AMF0 nesting too deep', 'AMF0_TOO_DEEP');
  if (v === null) return w.u8(T_NULL);
  if (v === undefined) return w.u8(T_UNDEFINED);
  switch (typeof v) {
    case 'number':
      w.u8(T_NUMBER);
      return w.f64(v);
    case 'boolean':
      w.u8(T_BOOLEAN);
      return w.u8(v ? 1 : 0);
    case 'string': {
      const b = textEncoder.encode(v);
      if (b.length > 0xffff) {
        w.u8(T_LONG_STRING);
        w.u32(b.length);
      } else {
        w.u8(T_STRING);
        w.u16(b.length);
      }
      return w.bytes(b);
    }
    default:
      break;
  }
  if (v instanceof Date) {
    w.u8(T_DATE);
    w.f64(v.getTime());
    return w.u16(0);
  }
  if (v instanceof Amf0EcmaArray) {
    w.u8(T_ECMA_ARRAY);
    w.u32(Object.keys(v.props).length);
    return writeProps(w, v.props, depth);
  }
  if (Array.isArray(v)) {
    w.u8(T_STRICT_ARRAY);
    w.u32(v.length);
    for (const item of v) writeValue(w, item, depth + 1);
    return;
  }
  w.u8(T_OBJECT);
  writeProps(w, v, depth);
}

/** Encode values one after the other (e.g. a command: name, transaction id, object, ...). */
export function encodeAmf0(...values: Amf0Value[]): Uint8Array {
  const w = new Writer();
  for (const v of values) writeValue(w, v, 0);
  return w.buf.slice(0, w.pos);
}
