/**
 * The panel's state machine without a DOM: every user path as events in, what is shown out.
 */
import { describe, expect, it } from 'vitest';
import type { SelectionReport } from '../../lib/frames';
import { initialState, MAX_VERSIONS, reduce, takeFor, viewOf, type PanelEvent, type PanelState } from './state';

const report = (o: Partial<SelectionReport> = {}): SelectionReport => ({
  id: 'sel1',
  text: 'Our shoes are light and fast.',
  editable: true,
  kind: 'editable',
  rect: { left: 100, top: 200, right: 300, bottom: 220 },
  point: null,
  fromCommand: false,
  mode: 'button',
  nonce: 'n1',
  dir: 'ltr',
  dark: false,
  oneLine: false,
  ...o,
});

const run = (
  events: PanelEvent[],
  s: PanelState = initialState({ platform: 'x', tone: 'professional', styleId: null }),
) => events.reduce(reduce, s);

/** A toolbar opened on a selection, a take started and streamed. */
const streamed = (text: string, finishReason: 'stop' | 'length' = 'stop', r = report()) => {
  const s0 = run([{ type: 'selected', report: r }, { type: 'open-toolbar' }]);
  return run(
    [
      { type: 'started', take: takeFor(s0, 'new', { action: 'rewrite' })! },
      { type: 'chunk', text },
      { type: 'finished', stopped: false, finishReason },
    ],
    s0,
  );
};

describe('selection → button → toolbar', () => {
  it('a passive selection shows only the pill; the pill opens the toolbar with a plain estimate', () => {
    const s = run([{ type: 'selected', report: report() }]);
    expect(viewOf(s)).toMatchObject({ visible: true, pill: true, toolbar: null, panel: null });
    const t = viewOf(reduce(s, { type: 'open-toolbar' }), { siteOff: true });
    expect(t.pill).toBe(false);
    expect(t.toolbar).toMatchObject({
      blocked: null,
      siteOff: true,
      estimate: { label: 'Rewrite', tokens: expect.stringMatching(/^~\d+ tokens$/) },
    });
    expect(t.toolbar!.estimate!.detail).toMatch(/Up to [\d,]+ are held/);
  });

  it('the shortcut opens the toolbar at once; dismissing closes the toolbar but never a result', () => {
    const s = run([{ type: 'selected', report: report({ mode: 'toolbar', fromCommand: true }) }]);
    expect(viewOf(s).toolbar).not.toBeNull();
    expect(reduce(s, { type: 'dismissed' }).phase).toBe('idle');
    const done = streamed('Light, fast shoes.');
    expect(reduce(done, { type: 'dismissed' }).phase).toBe('done');
  });

  it('a block shows in the toolbar itself, with the next step and no estimate', () => {
    const s = run([
      { type: 'selected', report: report({ mode: 'toolbar' }) },
      {
        type: 'blocked',
        block: {
          kind: 'no_tokens',
          sentence: 'You have used all your tokens.',
          next: 'upgrade',
          upgradeLabel: 'Upgrade · $20/month for 500,000 tokens',
        },
        upgradeOffer: 'Upgrade · $20/month for 500,000 tokens',
      },
    ]);
    expect(viewOf(s).toolbar).toEqual({
      blocked: { sentence: 'You have used all your tokens.', next: 'Upgrade · $20/month for 500,000 tokens' },
      estimate: null,
      siteOff: false,
    });
  });

  it('choices survive a new selection (tone, platform, style), a new selection drops the old versions', () => {
    const s = run(
      [
        { type: 'chose', tone: 'casual' },
        { type: 'chose', platform: 'linkedin' },
        { type: 'chose', styleId: 'brand' },
      ],
      streamed('One.'),
    );
    const next = reduce(s, { type: 'selected', report: report({ id: 'sel2' }) });
    expect(next).toMatchObject({
      tone: 'casual',
      platform: 'linkedin',
      styleId: 'brand',
      versions: [],
      shown: -1,
      phase: 'button',
    });
  });

  it('a selection does not interrupt a rewrite in flight, unless asked from the keyboard', () => {
    const s0 = run([{ type: 'selected', report: report() }, { type: 'open-toolbar' }]);
    const s = reduce(s0, { type: 'started', take: takeFor(s0, 'new')! });
    expect(reduce(s, { type: 'selected', report: report({ id: 'sel2' }) })).toBe(s);
    expect(
      reduce(s, { type: 'selected', report: report({ id: 'sel2', fromCommand: true, mode: 'toolbar' }) }).phase,
    ).toBe('toolbar');
  });
});

describe('versions, refine, continue', () => {
  it('streams into a version; Try again adds one; ‹ › pick which one to use', () => {
    const one = streamed('First take.');
    let v = viewOf(one).panel!;
    expect(v).toMatchObject({
      text: 'First take.',
      status: 'Done',
      versions: null,
      refine: true,
      buttons: { replace: true, insert: true, copy: true, retry: 'Try again', continue: false },
    });
    const two = run(
      [
        { type: 'started', take: takeFor(one, 'retry')! },
        { type: 'chunk', text: 'Second' },
      ],
      one,
    );
    v = viewOf(two).panel!;
    expect(v).toMatchObject({
      text: 'Second',
      streaming: true,
      status: 'Writing…',
      versions: { at: 2, of: 2, prev: false, next: false },
      buttons: { stop: true, replace: false, copy: false, retry: null },
    });
    const done = run(
      [
        { type: 'finished', stopped: false, finishReason: 'stop' },
        { type: 'showed', index: 0 },
      ],
      two,
    );
    expect(viewOf(done).panel).toMatchObject({
      text: 'First take.',
      versions: { at: 1, of: 2, prev: false, next: true },
    });
    expect(done.announce).toBe('Done: Second');
  });

  it('keeps at most ten versions', () => {
    let s = streamed('v0');
    for (let i = 1; i < 14; i++)
      s = run(
        [
          { type: 'started', take: takeFor(s, 'retry')! },
          { type: 'chunk', text: `v${i}` },
          { type: 'finished', stopped: false },
        ],
        s,
      );
    expect(s.versions).toHaveLength(MAX_VERSIONS);
    expect(s.versions[0]!.text).toBe('v4');
    expect(s.shown).toBe(MAX_VERSIONS - 1);
  });

  it('refine makes a new version from the shown one, with the wish; the title quotes it', () => {
    const s = streamed('Light, fast shoes.');
    const take = takeFor(s, 'refine', { instruction: 'more formal' })!;
    expect(take).toMatchObject({ action: 'rewrite', source: 'Light, fast shoes.', instruction: 'more formal' });
    expect(takeFor(s, 'refine', {})).toBeNull();
    const r = reduce(s, { type: 'started', take });
    expect(viewOf(r).panel!.title).toBe('Rewrite · “more formal”');
    const styled = reduce(s, { type: 'started', take: { ...take, styleId: 'brand', styleName: 'Brand voice' } });
    expect(viewOf(styled).panel!.title).toBe('Rewrite · Brand voice · “more formal”');
  });

  it('an answer cut by the length cap says so and offers Continue, which grows the same version', () => {
    const cut = streamed('The story begins', 'length');
    expect(viewOf(cut).panel).toMatchObject({
      status: 'Cut off at the length limit',
      buttons: { continue: true, replace: true },
    });
    expect(cut.announce).toMatch(/^Cut off at the length limit/);
    const more = run([{ type: 'continued' }, { type: 'chunk', text: ' and ends.' }], cut);
    expect(viewOf(more).panel).toMatchObject({
      status: 'Continuing…',
      text: 'The story begins and ends.',
      versions: null,
      buttons: { continue: false, replace: false },
    });
    const whole = reduce(more, { type: 'finished', stopped: false, finishReason: 'stop' });
    expect(whole.versions).toHaveLength(1);
    expect(viewOf(whole).panel).toMatchObject({ status: 'Done', buttons: { continue: false } });
  });

  it('a failed continuation keeps the text it had (and what it added) and can be continued again', () => {
    const cut = streamed('Part one', 'length');
    const failed = run(
      [
        { type: 'continued' },
        { type: 'chunk', text: ', part two' },
        { type: 'failed', error: { sentence: 'The stream was cut.', next: 'retry' } },
      ],
      cut,
    );
    expect(failed.versions[0]).toMatchObject({ text: 'Part one, part two', finish: 'length' });
    expect(viewOf(failed).panel).toMatchObject({
      error: 'The stream was cut.',
      buttons: { continue: true, copy: true },
    });
  });

  it('a failed new take leaves no empty version; a rate limit counts down before Try again', () => {
    const one = streamed('Kept.');
    const s = run(
      [
        { type: 'started', take: takeFor(one, 'retry')! },
        { type: 'failed', error: { sentence: 'Wait 2 seconds.', next: 'wait', waitSeconds: 2 } },
      ],
      one,
    );
    expect(s.versions.map((v) => v.text)).toEqual(['Kept.']);
    expect(viewOf(s).panel!.buttons).toMatchObject({ retry: 'Try again (2)', retryDisabled: true });
    const later = run([{ type: 'tick' }, { type: 'tick' }], s);
    expect(viewOf(later).panel!.buttons).toMatchObject({ retry: 'Try again', retryDisabled: false });
  });

  it('Stop: "Stopping…" then "Stopped"; a stopped answer is not offered to continue', () => {
    const s0 = run([{ type: 'selected', report: report() }, { type: 'open-toolbar' }]);
    const s = run(
      [{ type: 'started', take: takeFor(s0, 'new')! }, { type: 'chunk', text: 'Half' }, { type: 'stopping' }],
      s0,
    );
    expect(viewOf(s).panel!.status).toBe('Stopping…');
    const stopped = reduce(s, { type: 'finished', stopped: true, finishReason: 'length' });
    expect(viewOf(stopped).panel).toMatchObject({ status: 'Stopped', buttons: { continue: false, replace: true } });
  });

  it('sign-in and upgrade errors offer their step, not Try again', () => {
    const s0 = run([
      { type: 'selected', report: report() },
      { type: 'open-toolbar' },
      { type: 'blocked', block: null, upgradeOffer: 'Upgrade · $20/month' },
    ]);
    const s = run(
      [
        { type: 'started', take: takeFor(s0, 'new')! },
        { type: 'failed', error: { sentence: 'No tokens left.', next: 'upgrade' } },
      ],
      s0,
    );
    expect(viewOf(s).panel!.buttons).toMatchObject({ retry: null, upgrade: 'Upgrade · $20/month', signin: false });
  });
});

describe('social posts', () => {
  it('counts the post live against its platform (X weighs links and CJK), over the limit says by how much', () => {
    const s0 = run([
      { type: 'selected', report: report() },
      { type: 'open-toolbar' },
      { type: 'chose', platform: 'x' },
    ]);
    const s = run(
      [
        { type: 'started', take: takeFor(s0, 'new', { action: 'social_post' })! },
        { type: 'chunk', text: 'a'.repeat(279) },
      ],
      s0,
    );
    expect(viewOf(s).panel!.counter).toMatchObject({ count: 279, limit: 280, over: false, label: '279 / 280' });
    const over = reduce(s, { type: 'chunk', text: '日本' });
    expect(viewOf(over).panel!.counter).toMatchObject({
      count: 283,
      over: true,
      label: "283 / 280 · 3 over X's limit",
    });
    expect(viewOf(streamed('Not a post.')).panel!.counter).toBeNull();
  });
});

describe('Replace, Insert below and the chip', () => {
  it('after a verified Replace the panel collapses to "Replaced · Undo"; Show opens it again with Undo', () => {
    const s = run([{ type: 'working', note: 'Replacing…' }], streamed('New text.'));
    expect(viewOf(s).panel).toMatchObject({ busy: true, note: 'Replacing…' });
    const r = reduce(s, { type: 'applied', how: 'replace', nativeUndo: true });
    expect(viewOf(r)).toMatchObject({ panel: null, chip: { label: 'Replaced', undo: true, replaceAgain: false } });
    expect(r.announce).toBe('Replaced.');
    const shown = reduce(r, { type: 'expanded' });
    expect(viewOf(shown).panel).toMatchObject({
      status: 'Replaced',
      buttons: { undo: true, replace: false, insert: false, retry: null },
      refine: false,
      versions: null,
    });
  });

  it('follows the field: Ctrl+Z there → "Undone in the field" with Replace again; an edit hides Undo', () => {
    const r = run([{ type: 'applied', how: 'replace', nativeUndo: true }], streamed('New text.'));
    const reverted = reduce(r, { type: 'field-changed', state: 'reverted' });
    expect(viewOf(reverted).chip).toEqual({ label: 'Undone in the field', undo: false, replaceAgain: true });
    expect(reverted.applied).toBeNull();
    const edited = reduce(r, { type: 'field-changed', state: 'edited' });
    expect(viewOf(edited).chip).toEqual({ label: 'Replaced · edited since', undo: false, replaceAgain: false });
    expect(reduce(streamed('x'), { type: 'field-changed', state: 'reverted' }).note).toBe(''); // nothing applied: ignored
  });

  it("the panel's Undo: the whole panel again, saying the original is back", () => {
    const r = run([{ type: 'applied', how: 'insert', nativeUndo: true }], streamed('Below.'));
    expect(viewOf(r).chip!.label).toBe('Inserted below');
    const u = run(
      [
        { type: 'working', note: 'Undoing…' },
        { type: 'undone', how: 'native' },
      ],
      r,
    );
    expect(viewOf(u)).toMatchObject({
      chip: null,
      panel: { note: 'Original restored.', buttons: { replace: true, insert: true } },
    });
  });

  it('a refused Replace says why and keeps the panel (Copy offered)', () => {
    const f = run(
      [
        { type: 'working', note: 'Replacing…' },
        { type: 'apply-failed', message: 'This editor did not accept the text.' },
      ],
      streamed('New.'),
    );
    expect(viewOf(f).panel).toMatchObject({
      busy: false,
      note: 'This editor did not accept the text.',
      buttons: { copy: true, replace: true },
    });
  });

  it('no Insert below in a one-line input, nothing to apply in page text', () => {
    expect(viewOf(streamed('x', 'stop', report({ kind: 'field', oneLine: true }))).panel!.buttons).toMatchObject({
      replace: true,
      insert: false,
    });
    const page = viewOf(streamed('x', 'stop', report({ kind: 'page', editable: false }))).panel!;
    expect(page).toMatchObject({
      status: 'Done · this text is not editable, copy it',
      buttons: { replace: false, insert: false, copy: true },
    });
  });
});

describe('placement follows the selection', () => {
  it('a moved selection carries its pointer along (text fields anchor at the pointer)', () => {
    const s = run([
      { type: 'selected', report: report({ kind: 'field', point: { x: 150, y: 210 } }) },
      { type: 'moved', rect: { left: 100, top: 50, right: 300, bottom: 70 } },
    ]);
    expect(s.report).toMatchObject({ rect: { top: 50 }, point: { x: 150, y: 60 } });
  });
});
