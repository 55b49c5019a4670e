/** The little of Markdown the operations rules read: headings, their anchors, links. */

const withoutCode = (md: string): string => md.replace(/```[\s\S]*?```/g, '');

export function headings(md: string): string[] {
  return [...withoutCode(md).matchAll(/^#{1,6} (.+)$/gm)].map((m) => m[1]!.trim());
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
export function anchors(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const h of headings(md)) {
    const base = h
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

/** The text of one section: from the heading matching `title` to the next heading of the same or a higher level. */
export function section(md: string, title: RegExp): string | undefined {
  const lines = md.split('\n');
  let inCode = false;
  let start = -1;
  let level = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('```')) inCode = !inCode;
    if (inCode) continue;
    const m = /^(#{1,6}) (.+)$/.exec(line);
    if (!m) continue;
    if (start >= 0 && m[1]!.length <= level) return lines.slice(start, i).join('\n');
    if (start < 0 && title.test(m[2]!)) {
      start = i;
      level = m[1]!.length;
    }
  }
  return start >= 0 ? lines.slice(start).join('\n') : undefined;
}

/** Relative link targets (`[text](target)`), without external URLs. */
export function relativeLinks(md: string): string[] {
  return [...md.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z]+:/.test(t));
}
