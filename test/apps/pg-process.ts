import { execFile } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../cluster/services.js';

const run = promisify(execFile);

/** PostgreSQL refuses to run as root: then its tools run as the `postgres` user. */
function command(binary: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', binary, ...args]] : [binary, args];
}

/** A PostgreSQL server of the test's own (initdb + pg_ctl on a free port), to stop and start mid-run. */
export class PgProcess {
  private constructor(
    private readonly dir: string,
    readonly port: number,
  ) {}

  static async start(): Promise<PgProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-pg-'));
    if (process.getuid?.() === 0) {
      const { uid, gid } = await run('id', ['-u', 'postgres']).then(async (u) => ({
        uid: Number(u.stdout),
        gid: Number((await run('id', ['-g', 'postgres'])).stdout),
      }));
      chownSync(dir, uid, gid);
    }
    const pg = new PgProcess(dir, await freePort());
    await run(...command('initdb', ['-D', join(dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8']));
    await pg.restart();
    return pg;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  async restart(): Promise<void> {
    await run(
      ...command('pg_ctl', [
        '-D',
        join(this.dir, 'data'),
        '-w',
        '-t',
        '20',
        '-l',
        join(this.dir, 'log'),
        '-o',
        `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.dir}`,
        'start',
      ]),
    );
  }

  /** Immediate shutdown: as abrupt as a crash for its clients. */
  async stop(): Promise<void> {
    await run(...command('pg_ctl', ['-D', join(this.dir, 'data'), '-w', '-m', 'immediate', 'stop'])).catch(() => undefined);
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
