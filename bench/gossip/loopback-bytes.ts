/**
 * Bytes on the wire between a set of loopback addresses, counted by the kernel: an nftables table
 * of its own with one named counter per group, on the output hook (a loopback packet passes it
 * once). A packet counts when either end is in the group, so a TCP stream dialled from the
 * unbound 127.0.0.1 (memberlist's push/pull dials without a local address) counts both ways too;
 * keep anything else (RPC, the CLI) between addresses outside every group.
 */
import { execFileSync, spawnSync } from 'node:child_process';

/** Why nftables counters cannot be used here, or undefined. */
export function nftMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'counting bytes with nftables needs root';
  if (spawnSync('nft', ['--version'], { stdio: 'ignore' }).status !== 0) return 'nft is not installed';
  return undefined;
}

export interface ByteCounters {
  /** Bytes counted so far, per group. */
  read(): Record<string, number>;
  /** Deletes the table. */
  close(): void;
}

/** Groups are address ranges as nft writes them (`127.0.4.10-127.0.4.99`). */
export function countLoopbackBytes(groups: Record<string, string>): ByteCounters {
  const table = `rollcall_bytes_${process.pid}`;
  const rules = Object.entries(groups).flatMap(([group, range]) => [
    `add counter inet ${table} ${group}`,
    // The first rule accepts what it counted, so a packet with both ends in the group counts once.
    `add rule inet ${table} out ip daddr ${range} meta l4proto { tcp, udp } counter name ${group} accept`,
    `add rule inet ${table} out ip saddr ${range} meta l4proto { tcp, udp } counter name ${group} accept`,
  ]);
  const script = [
    `add table inet ${table}`,
    `add chain inet ${table} out { type filter hook output priority 0; policy accept; }`,
    ...rules,
  ].join('\n');
  execFileSync('nft', ['-f', '-'], { input: script });
  let closed = false;
  return {
    read() {
      const listing = JSON.parse(execFileSync('nft', ['-j', 'list', 'counters', 'table', 'inet', table], { encoding: 'utf8' })) as {
        nftables: Array<{ counter?: { name: string; bytes: number } }>;
      };
      const bytes: Record<string, number> = {};
      for (const item of listing.nftables) if (item.counter) bytes[item.counter.name] = item.counter.bytes;
      return bytes;
    },
    close() {
      if (closed) return;
      closed = true;
      spawnSync('nft', ['delete', 'table', 'inet', table], { stdio: 'ignore' });
    },
  };
}
