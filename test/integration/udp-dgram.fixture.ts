// Imported first by the *-dgram.test.ts twins: their tests run over node:dgram.
import { useUdp } from './udp-under-test.js';

useUdp('dgram');
