/**
 * A gossip node without the failure detector running: a {@link SwimNode} whose probe, gossip and
 * push/pull loops are never started. Enough to join a cluster (push/pull), be joined, answer and
 * send pings and take gossip, for tests of the net layer against real peers; it shares SwimNode's
 * one member table.
 * @module
 */

import type { Clock } from '../../internal/clock.js';
import type { Address, Transport } from '../../internal/transport.js';
import type { Net } from './net.js';
import { lan } from './swim/config.js';
import type { Member } from './swim/members.js';
import { SwimNode } from './swim/node.js';
import type { WireLayers } from './wire/layers.js';

export interface MemberlistOptions {
  transport: Transport;
  clock: Clock;
  /** Label, keyring and compression: the wire layers every packet and stream goes through. */
  layers: WireLayers;
  /** Unique node name in the cluster. */
  name: string;
  /** Node meta (serf tags: 0xff + msgpack map). @default empty */
  meta?: Uint8Array;
  /**
   * `[PMin, PMax, PCur, DMin, DMax, DCur]`. Plain memberlist clusters use delegate versions 0,0,0;
   * serf and Consul pools need 2,5,4 or their merge refuses us.
   * @default [1, 5, 2, 0, 0, 0]
   */
  vsn?: readonly number[];
  /** Delegate user state sent in push/pulls. @default none */
  userState?: (join: boolean) => Uint8Array;
  /** @default 10000 */
  streamTimeout?: number;
}

export class Memberlist {
  readonly node: SwimNode;
  readonly #transport: Transport;

  constructor(options: MemberlistOptions) {
    this.#transport = options.transport;
    const userState = options.userState;
    this.node = new SwimNode({
      transport: options.transport,
      clock: options.clock,
      config: { ...lan, tcpTimeout: options.streamTimeout ?? lan.tcpTimeout },
      layers: options.layers,
      name: options.name,
      meta: options.meta,
      vsn: options.vsn,
      delegate: userState ? { localState: (join) => userState(join) } : {},
    });
  }

  get net(): Net {
    return this.node.net;
  }

  get address(): Address {
    return this.#transport.advertiseAddress;
  }

  /** Other nodes that are alive or suspect. */
  members(): Member[] {
    return this.node.liveMembers();
  }

  /** Push/pull join with each address; resolves with how many answered. */
  join(addresses: readonly Address[]): Promise<number> {
    return this.node.join(addresses);
  }

  /** A UDP ping to `to` (naming `node`); true when its ack arrives within `timeoutMs`. */
  ping(to: Address, node: string, timeoutMs: number): Promise<boolean> {
    return this.node.ping(to, node, timeoutMs);
  }

  /** The TCP fallback ping: true when the ack came back over the stream. */
  pingStream(to: Address, node: string, timeoutMs?: number): Promise<boolean> {
    return this.node.pingStream(to, node, timeoutMs);
  }

  close(): Promise<void> {
    return this.node.close();
  }
}
