// transport-fin.test.ts again over the node:dgram socket (the native batch socket's fallback).
import './udp-dgram.fixture.js';
import './transport-fin.test.js';
