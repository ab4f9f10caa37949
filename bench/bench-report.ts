/**
 * Pure rendering of BENCHMARKS.md: tables, numbers, ratio verdicts, the machine header. No I/O, no clock: the
 * caller passes the date and the measurements, so the markdown is a unit-tested function of its inputs.
 */

/** What one benchmark contributes to BENCHMARKS.md. `failures` empty means every criterion it checks held. */
export interface BenchSection {
  readonly title: string;
  readonly markdown: string;
  readonly failures: readonly string[];
}

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryBytes: number;
  readonly nodeVersion: string;
  readonly platform: string;
  /** ISO 8601, from the caller's clock. */
  readonly date: string;
  /** The spotcheck commit measured, when known. */
  readonly commit?: string;
}

export interface Column {
  readonly header: string;
  /** Numbers read best right-aligned (GitHub-flavoured markdown `---:`). */
  readonly align?: 'left' | 'right';
}

/**
 * A GitHub-flavoured markdown table, columns padded to equal width so the raw file reads as a table too. Pipes in
 * cells are escaped (GFM: `\|` inside a cell) and newlines flattened, so a cell can never break the row.
 */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const cell = (text: string): string => text.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
  const body = rows.map((row) => columns.map((_, i) => cell(row[i] ?? '')));
  const head = columns.map((c) => cell(c.header));
  // GFM needs at least three dashes in a delimiter cell.
  const widths = columns.map((_, i) => Math.max(3, head[i]!.length, ...body.map((r) => r[i]!.length)));
  const pad = (text: string, i: number): string =>
    columns[i]?.align === 'right' ? text.padStart(widths[i]!) : text.padEnd(widths[i]!);
  const line = (cells: readonly string[]): string => `| ${cells.map(pad).join(' | ')} |`;
  const rule = `| ${columns
    .map((c, i) => (c.align === 'right' ? `${'-'.repeat(widths[i]! - 1)}:` : '-'.repeat(widths[i]!)))
    .join(' | ')} |`;
  return [line(head), rule, ...body.map(line)].join('\n');
}

/** Fixed decimals with thousands separators (`12,345.6`); non-finite values print as `n/a`. */
export function formatNumber(value: number, decimals = 0): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** Bytes as MiB with one decimal; a negative delta keeps its sign (memory can shrink after a GC). */
export function formatMiB(bytes: number): string {
  return `${formatNumber(bytes / 1_048_576, 1)} MiB`;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface RatioCheck {
  /** What is compared, e.g. "cost per order". */
  readonly label: string;
  readonly unit: string;
  /** The reference measurement (the small run). */
  readonly base: { readonly label: string; readonly value: number };
  /** The measurement that must not exceed `limit` × base. */
  readonly compared: { readonly label: string; readonly value: number };
  readonly limit: number;
  readonly decimals?: number;
}

export interface RatioVerdict {
  readonly ratio: number;
  readonly passed: boolean;
  /** One markdown line: mark, both numbers, the ratio and the limit. */
  readonly markdown: string;
}

/**
 * compared / base against a limit. A zero base with a non-zero compared value is an infinite ratio (fails); a
 * non-finite measurement fails too: a criterion never passes on a number that is not one.
 */
export function checkRatio(check: RatioCheck): RatioVerdict {
  const { base, compared, limit } = check;
  const ratio = base.value === 0 ? (compared.value === 0 ? 1 : Number.POSITIVE_INFINITY) : compared.value / base.value;
  const passed = Number.isFinite(base.value) && Number.isFinite(compared.value) && ratio <= limit;
  const decimals = check.decimals ?? 2;
  const ratioText = Number.isFinite(ratio) ? `${formatNumber(ratio, 2)}×` : '∞';
  const markdown =
    `${passed ? '✅' : '❌'} **${check.label}**: ${compared.label} ${formatNumber(compared.value, decimals)} ` +
    `${check.unit} vs ${base.label} ${formatNumber(base.value, decimals)} ${check.unit}: ` +
    `ratio ${ratioText} (limit ${formatNumber(limit, 2)}×)`;
  return { ratio, passed, markdown };
}

export function renderMachine(machine: MachineInfo): string {
  return renderTable(
    [{ header: 'machine' }, { header: '' }],
    [
      ['CPU', machine.cpuModel],
      ['cores', String(machine.cores)],
      ['memory', `${formatNumber(machine.memoryBytes / 1_073_741_824, 1)} GiB`],
      ['Node.js', machine.nodeVersion],
      ['platform', machine.platform],
      ['date', machine.date],
      ...(machine.commit === undefined ? [] : [['commit', machine.commit]]),
    ],
  );
}

/**
 * The line under a section's heading that says when and where it was measured. Every section has its own, so one
 * refreshed alone (`npm run bench -- <name>`, mergeBenchReport) sits next to older ones that keep theirs.
 */
export function renderMeasuredLine(machine: MachineInfo): string {
  const commit = machine.commit === undefined ? '' : `, commit ${machine.commit.slice(0, 12)}`;
  return (
    `_Measured ${machine.date}${commit}, on ${machine.cpuModel} (${String(machine.cores)} cores, ` +
    `${formatNumber(machine.memoryBytes / 1_073_741_824, 1)} GiB), Node.js ${machine.nodeVersion}, ${machine.platform}._`
  );
}

const MEASURED_PREFIX = '_Measured ';

/** The whole file: header, machine, a summary of every criterion, then one section per benchmark. */
export function renderBenchReport(machine: MachineInfo, sections: readonly BenchSection[]): string {
  const measured = renderMeasuredLine(machine);
  return renderFile(
    machine,
    sections.map((s) => ({ title: s.title, body: `${measured}\n\n${s.markdown.trim()}` })),
    sections.flatMap((s) => s.failures.map((f) => `- ${s.title}: ${f}`)),
  );
}

/**
 * BENCHMARKS.md after a run of some benchmarks: each section run replaces the section of the same title in
 * `existing` (in place), a section not there yet is added at the end, and every other section is kept as it was,
 * with its own "measured" line and its failed criteria in the summary. The machine table at the top is this run's.
 * A section of an older file without a "measured" line gets one from that file's machine table, so it keeps its
 * date. `existing` that is not a BENCHMARKS.md (no `# spotcheck benchmarks` title) is replaced whole.
 */
export function mergeBenchReport(existing: string, machine: MachineInfo, sections: readonly BenchSection[]): string {
  const old = splitReport(existing);
  if (old === undefined) return renderBenchReport(machine, sections);
  const fresh = new Map(sections.map((s) => [s.title, s]));
  const measured = renderMeasuredLine(machine);
  const oldMeasured = old.machine === undefined ? undefined : renderMeasuredLine(old.machine);
  const kept: { title: string; body: string }[] = [];
  const failures: string[] = [];
  for (const section of old.sections) {
    const run = fresh.get(section.title);
    if (run !== undefined) {
      kept.push({ title: run.title, body: `${measured}\n\n${run.markdown.trim()}` });
      failures.push(...run.failures.map((f) => `- ${run.title}: ${f}`));
      fresh.delete(section.title);
      continue;
    }
    const body = section.body.trim();
    const dated = body.startsWith(MEASURED_PREFIX) || oldMeasured === undefined ? body : `${oldMeasured}\n\n${body}`;
    kept.push({ title: section.title, body: dated });
    failures.push(...old.failures.filter((line) => line.startsWith(`- ${section.title}: `)));
  }
  for (const run of fresh.values()) {
    kept.push({ title: run.title, body: `${measured}\n\n${run.markdown.trim()}` });
    failures.push(...run.failures.map((f) => `- ${run.title}: ${f}`));
  }
  return renderFile(machine, kept, failures);
}

const TITLE = '# spotcheck benchmarks';

function renderFile(
  machine: MachineInfo,
  sections: readonly { readonly title: string; readonly body: string }[],
  failed: readonly string[],
): string {
  const summary =
    failed.length === 0
      ? `All criteria held (${String(sections.length)} benchmark${sections.length === 1 ? '' : 's'}).`
      : `${String(failed.length)} ${failed.length === 1 ? 'criterion' : 'criteria'} failed:\n\n${failed.join('\n')}`;
  return [
    TITLE,
    '',
    'Generated by `npm run bench` (bench/main.ts); do not edit by hand. Absolute numbers depend on the machine ' +
      'and on what else it was running; the criteria compare runs made in the same process. A run of some ' +
      'benchmarks (`npm run bench -- <name>`) replaces only their sections: each section says when and where it ' +
      'was measured, and the table below is the latest run’s machine.',
    '',
    renderMachine(machine),
    '',
    summary,
    '',
    ...sections.flatMap((s) => [`## ${s.title}`, '', s.body, '']),
  ].join('\n');
}

interface SplitReport {
  readonly machine: MachineInfo | undefined;
  /** The summary's `- Title: criterion` lines. */
  readonly failures: readonly string[];
  readonly sections: readonly { readonly title: string; readonly body: string }[];
}

/** A BENCHMARKS.md cut at its `## ` headings (lines of their own; `### ` stays inside its section). */
function splitReport(markdown: string): SplitReport | undefined {
  const lines = markdown.split('\n');
  if (lines[0]?.trim() !== TITLE) return undefined;
  const sections: { title: string; lines: string[] }[] = [];
  const head: string[] = [];
  for (const line of lines) {
    if (line.startsWith('## ')) sections.push({ title: line.slice(3).trim(), lines: [] });
    else (sections.at(-1)?.lines ?? head).push(line);
  }
  return {
    machine: readMachineTable(head),
    failures: head.filter((line) => line.startsWith('- ')),
    sections: sections.map((s) => ({ title: s.title, body: s.lines.join('\n') })),
  };
}

/** The machine table renderMachine wrote, read back; undefined when a row is missing. */
function readMachineTable(lines: readonly string[]): MachineInfo | undefined {
  const rows = new Map<string, string>();
  for (const line of lines) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length === 4 && cells[1] !== undefined && cells[2] !== undefined) rows.set(cells[1], cells[2]);
  }
  const [cpuModel, cores, memory, nodeVersion, platform, date] = [
    'CPU',
    'cores',
    'memory',
    'Node.js',
    'platform',
    'date',
  ].map((k) => rows.get(k));
  if (!cpuModel || !cores || !memory || !nodeVersion || !platform || !date) return undefined;
  const commit = rows.get('commit');
  return {
    cpuModel,
    cores: Number(cores),
    memoryBytes: Number.parseFloat(memory) * 1_073_741_824,
    nodeVersion,
    platform,
    date,
    ...(commit ? { commit } : {}),
  };
}
