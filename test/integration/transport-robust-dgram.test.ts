// transport-robust.test.ts again over the node:dgram socket (the native batch socket's fallback).
import './udp-dgram.fixture.js';
import './transport-robust.test.js';
