/**
 * One command line from start to exit status: parse, open the registry, run the command, close.
 * Every problem becomes one line on stderr and a status (0 ok, 1 nothing found, 2 usage,
 * 3 registry unavailable or timed out, 4 a bug).
 * @module
 */
import type { Logger } from '../index.js';
import { type CommandLine, parseCommandLine, USAGE } from './args.js';
import { commands, type Io } from './commands.js';
import { type Connection, connect } from './connect.js';
import { classify, ExitCode, oneLine } from './exit.js';

/** Runs one command line and resolves with its exit status; never throws. */
export async function run(argv: readonly string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  let line: CommandLine | undefined;
  let conn: Connection | undefined;
  try {
    line = parseCommandLine(argv);
    if (line.help) {
      io.out(USAGE);
      return ExitCode.OK;
    }
    if (!line.command) {
      io.note('rollcall: no command given; commands: services, get, watch, members, register (rollcall --help)');
      return ExitCode.USAGE;
    }
    conn = await connect(line, env, io.note, line.verbose ? stderrLogger(io) : undefined);
    // A watch being iterated and a live registration keep the process up by themselves.
    return await commands[line.command](line, conn, io);
  } catch (error) {
    if (io.interrupted.aborted && error instanceof Error && error.name === 'AbortError') return 130;
    const { status, code } = classify(error);
    const message = oneLine(error);
    const prefix = line?.command ? `rollcall ${line.command}` : 'rollcall';
    if (line?.json) io.note(JSON.stringify({ error: { code, message } }));
    else io.note(`${prefix}: ${message}${status === ExitCode.USAGE && code === 'USAGE' ? ' (rollcall --help)' : ''}`);
    if (line?.verbose || status === ExitCode.INTERNAL) io.note(details(error));
    return status;
  } finally {
    await conn?.registry.close().catch(() => {});
  }
}

/** The stack and the chain of causes, for --verbose. */
function details(error: unknown): string {
  const lines: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 5; depth++) {
    lines.push(depth === 0 ? '' : 'caused by:', e instanceof Error ? (e.stack ?? e.message) : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return lines.filter(Boolean).join('\n');
}

function stderrLogger(io: Io): Logger {
  const at = (level: string) => (obj: object, msg?: string) => io.note(`rollcall: ${level}: ${msg ?? ''} ${JSON.stringify(obj)}`);
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
