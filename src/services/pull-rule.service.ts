/**
 * Pull rules: those of the YAML file (cascade-client.pull, read-only here) and
 * those added at runtime (stored in the database, surviving restarts). Every change
 * is applied to the data plane through `apply`.
 */
import { isValidPullUrl, isValidStreamPath } from '../../dataplane/media/stream-path.js';
import type { Database } from '../db/database.js';
import { PullRule } from '../db/entities/pull-rule.entity.js';
import { AppError } from '../errors.js';
import { uniqueViolation } from '../db/unique-violation.js';

/** A pull rule as the APIs show it. */
export interface PullRuleRecord {
  streamPath: string;
  pullUrl: string;
  /** CONFIG: from the YAML file; API: added at runtime (persisted). */
  source: 'CONFIG' | 'API';
  createdTime: Date | null;
}

export class PullRuleService {
  private dbRules: PullRuleRecord[] = [];
  private changed: () => void = () => {};

  constructor(
    private readonly db: Database,
    private readonly configRules: readonly { streamPath: string; pullUrl: string }[],
    /** Receives the full rule set after every change (null: this node has no client role). */
    private readonly apply: ((rules: { streamPath: string; pullUrl: string }[]) => void) | null,
  ) {}

  /** Load the stored rules and apply them with the configured ones. */
  async load(): Promise<void> {
    const rows = await this.db.dataSource.getRepository(PullRule).find({ order: { id: 'ASC' } });
    this.dbRules = rows.map((r) => ({ streamPath: r.streamPath, pullUrl: r.pullUrl, source: 'API' as const, createdTime: r.createdTime }));
    this.push();
  }

  /** Told after this node changed the stored rules (cluster replicas reload theirs). */
  setChangeListener(l: () => void): void {
    this.changed = l;
  }

  list(): PullRuleRecord[] {
    const cfg = this.configRules.map((r) => ({ ...r, source: 'CONFIG' as const, createdTime: null }));
    return [...cfg, ...this.dbRules.filter((d) => !cfg.some((c) => c.streamPath === d.streamPath))];
  }

  async add(streamPath: string, pullUrl: string): Promise<PullRuleRecord> {
    if (!this.apply) throw new AppError('CONFLICT', 'this node has no cascade-client role: pull rules need an upper node');
    if (!isValidStreamPath(streamPath)) throw new AppError('VALIDATION', 'streamPath must look like "live/camera1"');
    if (!isValidPullUrl(pullUrl)) throw new AppError('VALIDATION', 'pullUrl must look like "cascade://live/camera1"');
    if (this.list().some((r) => r.streamPath === streamPath)) throw new AppError('CONFLICT', `a pull rule for ${streamPath} exists already`);
    let row: PullRule;
    try {
      row = await this.db.dataSource.getRepository(PullRule).save({ streamPath, pullUrl });
    } catch (err) {
      if (uniqueViolation(err) !== null) {
        throw new AppError('CONFLICT', `a pull rule for ${streamPath} exists already`);
      }
      throw err;
    }
    const rec: PullRuleRecord = { streamPath, pullUrl, source: 'API', createdTime: row.createdTime ?? new Date() };
    this.dbRules.push(rec);
    this.push();
    this.changed();
    return rec;
  }

  /** Remove a runtime rule; resolves with it. Rules of the YAML file cannot be removed. */
  async remove(streamPath: string): Promise<PullRuleRecord> {
    if (this.configRules.some((r) => r.streamPath === streamPath)) {
      throw new AppError('CONFLICT', `the pull rule for ${streamPath} comes from the configuration file; edit the file to remove it`);
    }
    const rec = this.dbRules.find((r) => r.streamPath === streamPath);
    if (!rec) throw new AppError('NOT_FOUND', `pull rule for ${streamPath} not found`);
    await this.db.dataSource.getRepository(PullRule).delete({ streamPath });
    this.dbRules = this.dbRules.filter((r) => r !== rec);
    this.push();
    this.changed();
    return rec;
  }

  private push(): void {
    this.apply?.(this.list().map((r) => ({ streamPath: r.streamPath, pullUrl: r.pullUrl })));
  }
}
