/**
 * Collects expression placeholders so every name and value is referenced exactly once (DynamoDB rejects unused
 * ones with a ValidationException). One `Expr` per request.
 */
export class Expr {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  private n = 0;
  private v = 0;
  private readonly nameIds = new Map<string, string>();

  name(attribute: string): string {
    let id = this.nameIds.get(attribute);
    if (id === undefined) {
      id = `#n${String(this.n++)}`;
      this.nameIds.set(attribute, id);
      this.names[id] = attribute;
    }
    return id;
  }

  value(value: unknown): string {
    const id = `:v${String(this.v++)}`;
    this.values[id] = value;
    return id;
  }

  in(attribute: string, values: readonly unknown[]): string {
    return `${this.name(attribute)} IN (${values.map((x) => this.value(x)).join(', ')})`;
  }

  /** `SET a = :a, ...  REMOVE b, ...` for a map where `undefined` means remove. */
  update(set: Record<string, unknown>, remove: readonly string[]): string {
    const sets = Object.entries(set).map(([k, v]) => `${this.name(k)} = ${this.value(v)}`);
    const removes = remove.map((k) => this.name(k));
    return [sets.length > 0 ? `SET ${sets.join(', ')}` : '', removes.length > 0 ? `REMOVE ${removes.join(', ')}` : '']
      .filter((s) => s !== '')
      .join(' ');
  }

  params(): {
    ExpressionAttributeNames: Record<string, string>;
    ExpressionAttributeValues?: Record<string, unknown>;
  } {
    return Object.keys(this.values).length > 0
      ? { ExpressionAttributeNames: this.names, ExpressionAttributeValues: this.values }
      : { ExpressionAttributeNames: this.names };
  }
}
