/** What `innermostDef` reads of a zod 4 schema's definition. */
export interface SchemaDef {
  /** zod's name of the schema kind: `string`, `object`, `boolean`, ... */
  readonly type?: string;
  /** The fields of an object schema. */
  readonly shape?: Record<string, unknown>;
}

/**
 * The definition under a schema's wrappers (optional, default, prefault, nullable, pipe's input): the
 * one place that reads zod's internals (`schema.def`), which zod has no public walker for. Bounded,
 * so a recursive schema cannot loop.
 */
export function innermostDef(schema: unknown): SchemaDef | undefined {
  let s = schema as { def?: SchemaDef & { innerType?: unknown; in?: unknown } } | undefined;
  for (let depth = 0; depth < 8 && s?.def; depth++) {
    const inner = s.def.innerType ?? s.def.in;
    if (!inner) return s.def;
    s = inner;
  }
  return s?.def;
}
