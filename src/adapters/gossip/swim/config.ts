/**
 * SWIM timing presets, field for field memberlist's DefaultLANConfig / DefaultWANConfig /
 * DefaultLocalConfig (config.go), so a rollcall node in a Go cluster keeps the same rhythm as its
 * peers and the suspicion arithmetic agrees on both sides. All durations in milliseconds.
 * @module
 */

export interface SwimConfig {
  /** Time between failure probes of one member (scaled up by awareness). */
  readonly probeInterval: number;
  /** Wait for a direct ack before asking others to probe; a LAN round trip. */
  readonly probeTimeout: number;
  /** Peers asked to probe a silent member for us. */
  readonly indirectChecks: number;
  /** Suspicion lasts `suspicionMult × max(1, log10(n)) × probeInterval` at least. */
  readonly suspicionMult: number;
  /** A lone accuser's suspicion lasts this many times the minimum. */
  readonly suspicionMaxTimeoutMult: number;
  /** Time between gossip rounds. */
  readonly gossipInterval: number;
  /** Peers each gossip round sends to. */
  readonly gossipNodes: number;
  /** Dead members still receive gossip this long (so they learn they were declared dead) and are reaped after it. */
  readonly gossipToTheDeadTime: number;
  /** Full state exchange with one random member (0 turns it off); scaled up past 32 members. */
  readonly pushPullInterval: number;
  /** Each broadcast is sent `retransmitMult × ceil(log10(n + 1))` times. */
  readonly retransmitMult: number;
  /** Awareness cap: probe timing stretches at most this many times. */
  readonly awarenessMaxMultiplier: number;
  /** Dial, read and write deadline of a stream (push/pull, TCP ping). */
  readonly tcpTimeout: number;
  /** The datagram budget gossip packs messages into. */
  readonly udpBufferSize: number;
  /** LZW-compress messages when smaller. */
  readonly enableCompression: boolean;
  /** Never fall back to TCP pings. */
  readonly disableTcpPings: boolean;
  /** Failed members are tried again this often (serf's reconnect interval), so a healed partition merges. */
  readonly reconnectInterval: number;
  /** Failed members are tried for this long before they are forgotten (serf's reconnect timeout). */
  readonly reconnectTimeout: number;
}

/** memberlist DefaultLANConfig. */
export const lan: SwimConfig = Object.freeze({
  probeInterval: 1_000, // failure check every second
  probeTimeout: 500, // a reasonable LAN round trip
  indirectChecks: 3,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6, // 10k nodes: 120 s at most
  gossipInterval: 200,
  gossipNodes: 3,
  gossipToTheDeadTime: 30_000, // same as push/pull
  pushPullInterval: 30_000, // low frequency
  retransmitMult: 4,
  awarenessMaxMultiplier: 8, // probes back off to 8 s
  tcpTimeout: 10_000,
  udpBufferSize: 1_400,
  enableCompression: true,
  disableTcpPings: false, // safe with mixed versions
  reconnectInterval: 30_000, // serf's default
  reconnectTimeout: 24 * 3_600_000, // serf's default
});

/** memberlist DefaultWANConfig: slower probes and gossip, longer suspicion. */
export const wan: SwimConfig = Object.freeze({
  ...lan,
  tcpTimeout: 30_000,
  suspicionMult: 6,
  pushPullInterval: 60_000,
  probeTimeout: 3_000,
  probeInterval: 5_000,
  gossipNodes: 4,
  gossipInterval: 500,
  gossipToTheDeadTime: 60_000,
});

/** memberlist DefaultLocalConfig: one host or a test; fast and still conservative. */
export const local: SwimConfig = Object.freeze({
  ...lan,
  tcpTimeout: 1_000,
  indirectChecks: 1,
  retransmitMult: 2,
  suspicionMult: 3,
  pushPullInterval: 15_000,
  probeTimeout: 200,
  probeInterval: 1_000,
  gossipInterval: 100,
  gossipToTheDeadTime: 15_000,
  reconnectInterval: 5_000,
  reconnectTimeout: 3_600_000,
});

export const presets = Object.freeze({ lan, wan, local });
export type PresetName = keyof typeof presets;
