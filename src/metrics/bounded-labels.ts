/**
 * A bounded label set for Prometheus: the first `max` values keep their own label,
 * every later one is reported as `other`. A value once given its own label keeps it
 * for the life of the process, so its counter stays monotonic.
 */
export const OTHER_LABEL = 'other';

export class BoundedLabels {
  private readonly own = new Set<string>();

  constructor(private readonly max: number) {}

  /** The label to report `value` under. */
  label(value: string): string {
    if (this.own.has(value)) return value;
    if (this.own.size >= this.max || value === OTHER_LABEL) return OTHER_LABEL;
    this.own.add(value);
    return value;
  }
}
