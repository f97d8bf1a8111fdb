/**
 * One gossip node: the net layer wired to the member table. Enough of memberlist to join a cluster
 * (push/pull), be joined, answer and send pings, and take alive gossip; probing, suspicion and the
 * broadcast queue come on top of it.
 * @module
 */

import type { Clock } from '../../internal/clock.js';
import type { Address, Transport } from '../../internal/transport.js';
import { Net } from './net.js';
import { addressFromWire, ipToBytes } from './net-address.js';
import { MemberState, type NodeRecord } from './state.js';
import type { WireLayers } from './wire/layers.js';
import { encodePing, NodeState } from './wire/messages.js';

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

const EMPTY = new Uint8Array(0);

export class Memberlist {
  readonly net: Net;
  readonly state: MemberState;
  readonly #clock: Clock;
  readonly #transport: Transport;
  readonly #waiters = new Map<number, () => void>();
  #seq = 0;

  constructor(options: MemberlistOptions) {
    this.#clock = options.clock;
    this.#transport = options.transport;
    const advertise = options.transport.advertiseAddress;
    this.state = new MemberState({
      name: options.name,
      addr: ipToBytes(advertise.host),
      port: advertise.port,
      meta: options.meta ?? EMPTY,
      incarnation: 1,
      state: NodeState.alive,
      vsn: Uint8Array.from(options.vsn ?? [1, 5, 2, 0, 0, 0]),
    });
    const state = this.state;
    this.net = new Net({
      transport: options.transport,
      clock: options.clock,
      layers: options.layers,
      name: options.name,
      streamTimeout: options.streamTimeout,
      handlers: {
        localState: (join) => ({ nodes: state.pushNodes(), userState: options.userState?.(join) ?? EMPTY }),
        mergeRemoteState: (remote) => state.merge(remote.nodes),
        protocolMax: (address) => this.#protocolMaxAt(address),
        ack: (ack) => this.#waiters.get(ack.seqNo)?.(),
        alive: (alive) =>
          state.applyAlive({
            name: alive.node,
            addr: alive.addr,
            port: alive.port,
            meta: alive.meta,
            incarnation: alive.incarnation,
            vsn: alive.vsn,
          }),
        dead: (dead) => state.applyDown(dead.node, dead.incarnation, dead.node === dead.from ? NodeState.left : NodeState.dead),
      },
    });
  }

  get address(): Address {
    return this.#transport.advertiseAddress;
  }

  /** Other nodes that are alive or suspect. */
  members(): NodeRecord[] {
    return this.state.members().filter((n) => n.name !== this.state.local.name);
  }

  /** Push/pull join with each address; resolves with how many answered. */
  async join(addresses: readonly Address[]): Promise<number> {
    let joined = 0;
    for (const address of addresses) {
      try {
        await this.net.pushPull(address, true);
        joined++;
      } catch {
        // Like memberlist's Join: one unreachable seed does not fail the others.
      }
    }
    return joined;
  }

  /** A UDP ping to `to` (naming `node`); true when its ack arrives within `timeoutMs`. */
  ping(to: Address, node: string, timeoutMs: number): Promise<boolean> {
    const seqNo = this.#nextSeq();
    return new Promise((resolve) => {
      const timer = this.#clock.setTimeout(() => {
        this.#waiters.delete(seqNo);
        resolve(false);
      }, timeoutMs);
      this.#waiters.set(seqNo, () => {
        timer.cancel();
        this.#waiters.delete(seqNo);
        resolve(true);
      });
      void this.net.sendPacket(to, encodePing(this.#ping(seqNo, node)));
    });
  }

  /** The TCP fallback ping: true when the ack came back over the stream. */
  pingStream(to: Address, node: string, timeoutMs?: number): Promise<boolean> {
    return this.net.pingStream(to, this.#ping(this.#nextSeq(), node), timeoutMs);
  }

  close(): Promise<void> {
    return this.net.close();
  }

  #ping(seqNo: number, node: string) {
    const local = this.state.local;
    return { seqNo, node, sourceAddr: local.addr, sourcePort: local.port, sourceNode: local.name };
  }

  #nextSeq(): number {
    this.#seq = (this.#seq + 1) >>> 0;
    return this.#seq;
  }

  #protocolMaxAt(address: Address): number | undefined {
    for (const n of this.state.all()) {
      const at = addressFromWire(n.addr, n.port);
      if (at && at.port === address.port && at.host === address.host) return n.vsn[1];
    }
    return undefined;
  }
}
