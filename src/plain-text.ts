/**
 * Fast answers for the text nearly every service consists of, ahead of the full checks in
 * service.ts: names in printable ASCII and addresses in dotted-quad `host:port` form. Every node
 * a browser hears passes validation, usually in code that has not run for a while, and there a
 * Unicode-aware regular expression costs microseconds of cold code where a loop over a dozen
 * characters costs nothing. Each function answers exactly what the check it stands in front of
 * would, or says it cannot (false), and the full check runs.
 * @module
 */

const SPACE = 0x20;
const BANG = 0x21;
const TILDE = 0x7e;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const DOT = 0x2e;
const COLON = 0x3a;

/**
 * Whether every character is printable ASCII (`!` to `~`, and the space when `allowSpace`).
 * Such text holds no control, format, separator or white-space character, so it passes the
 * name checks without their Unicode property classes being run.
 */
export function isPlainAscii(text: string, allowSpace: boolean): boolean {
  const low = allowSpace ? SPACE : BANG;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < low || c > TILDE) return false;
  }
  return true;
}

/**
 * Whether `address` is `a.b.c.d:port` with decimal octets 0..255 and a port 1..65535, none with
 * a leading zero: the one shape of every address an mDNS browser assembles from an A record.
 * One pass, nothing allocated.
 */
export function isPlainIpv4Port(address: string): boolean {
  const n = address.length;
  /** 0-3: the octets; 4: the port. */
  let part = 0;
  let value = 0;
  let digits = 0;
  let first = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? address.charCodeAt(i) : -1;
    if (c >= DIGIT_0 && c <= DIGIT_9) {
      if (digits === 0) first = c;
      value = value * 10 + (c - DIGIT_0);
      if (++digits > (part < 4 ? 3 : 5)) return false;
      continue;
    }
    // A run of digits ends: an octet (then a dot, or the colon after the fourth) or the port (then the end).
    if (digits === 0 || (digits > 1 && first === DIGIT_0)) return false;
    if (part === 4) return c === -1 && first !== DIGIT_0 && value <= 65535;
    if (value > 255 || c !== (part < 3 ? DOT : COLON)) return false;
    part++;
    value = 0;
    digits = 0;
  }
  return false;
}

/** Whether every character is ASCII (below U+0080): such text is its own UTF-8, byte for byte. */
export function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return false;
  return true;
}

/** Whether the text holds an ASCII capital letter (A-Z): what DNS name folding changes. */
export function hasAsciiUpper(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return true;
  }
  return false;
}
