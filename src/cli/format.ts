/**
 * What a person reads: aligned columns with a header, and one line per watch event. Scripts use
 * `--json` instead, so nothing here is a contract.
 * @module
 */
import type { Member, Metadata, Node, Service, WatchEvent } from '../index.js';

/** Columns padded to their widest cell, two spaces apart; the last column is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function metadata(m: Metadata): string {
  return Object.entries(m)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

export function servicesTable(services: readonly Service[]): string {
  const sorted = [...services].sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
  return table(
    ['NAME', 'VERSION'],
    sorted.map((s) => [s.name, s.version || '-']),
  );
}

export function nodesTable(services: readonly Service[]): string {
  const rows = services.flatMap((s) => s.nodes.map((n) => [s.version || '-', n.id, n.address, metadata(n.metadata)]));
  return table(['VERSION', 'ID', 'ADDRESS', 'METADATA'], rows);
}

export function membersTable(members: readonly Member[]): string {
  return table(
    ['NAME', 'ADDRESS', 'STATUS', 'TAGS'],
    members.map((m) => [m.name, m.address, m.status, metadata(m.tags)]),
  );
}

const nodeList = (nodes: readonly Node[]) => nodes.map((n) => `${n.id} (${n.address})`).join(', ');

/** `12:00:01.250  update  greeter 1.0.0  +greeter-3 (10.0.0.3:80)  now 3 nodes` */
export function eventLine(event: WatchEvent, at: Date): string {
  const time = at.toISOString().slice(11, 23);
  if (event.type === 'resync')
    return `${time}  resync  ${event.services.length} service version(s): ${event.services.map(label).join(', ')}`;
  const parts = [time, event.type.padEnd(6), label(event.service)];
  if (event.added.length) parts.push(`+${nodeList(event.added)}`);
  if (event.updated.length) parts.push(`~${nodeList(event.updated)}`);
  if (event.removed.length) parts.push(`-${nodeList(event.removed)}`);
  parts.push(`now ${event.service.nodes.length} node${event.service.nodes.length === 1 ? '' : 's'}`);
  return parts.join('  ');
}

function label(s: Service): string {
  return s.version ? `${s.name} ${s.version}` : s.name;
}
