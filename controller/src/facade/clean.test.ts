import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cleanOutput, OutputCleaner } from './clean.js';

describe('output cleaning', () => {
  test('CRLF becomes LF; colours, cursor moves, titles and charset switches go', () => {
    assert.equal(cleanOutput('a\r\nb\r\n'), 'a\nb\n');
    assert.equal(cleanOutput('\x1b[1;31mred\x1b[0m \x1b[2K\x1b[10;5H.'), 'red .');
    assert.equal(cleanOutput('\x1b]0;title\x07x\x1b]8;;http://e\x1b\\link\x1b]8;;\x1b\\'), 'xlink');
    assert.equal(cleanOutput('\x1b(Bx\x1b=\x1bPq#0\x1b\\y\x1bc'), 'xy');
    assert.equal(cleanOutput('\x1b[?2004hprompt\x1b[?2004l'), 'prompt');
    // A lone CR (progress bars) is kept: only CRLF pairs are line ends.
    assert.equal(cleanOutput('10%\r20%\r\n'), '10%\r20%\n');
    assert.equal(cleanOutput('\r\x1b[K\n'), '\n');
    assert.equal(cleanOutput('plain ünïcödé\n'), 'plain ünïcödé\n');
  });

  test('streamed: a sequence or a CRLF split between chunks is completed, never leaked', () => {
    const whole = 'a\x1b[1;3' + '1mred\x1b' + '[0m\r' + '\nb\x1b]0;t' + 'itle\x07c\r';
    const chunks = ['a\x1b[1;3', '1mred\x1b', '[0m\r', '\nb\x1b]0;t', 'itle\x07c\r'];
    const c = new OutputCleaner();
    const out: string[] = [];
    for (const ch of chunks) out.push(c.push(ch));
    out.push(c.end());
    assert.equal(out.join(''), cleanOutput(whole));
    assert.equal(out.join(''), 'ared\nbc\r');
    for (const o of out) assert.ok(!o.includes('\x1b'), JSON.stringify(out));
    // Every split of a sample gives the same text as cleaning it whole.
    const sample = 'x\x1b[38;5;208mo\x1b[0m\r\ny\x1b]2;t\x1b\\z\r\n';
    for (let i = 0; i <= sample.length; i++) {
      const k = new OutputCleaner();
      assert.equal(k.push(sample.slice(0, i)) + k.push(sample.slice(i)) + k.end(), cleanOutput(sample), `split at ${i}`);
    }
  });

  test('an unterminated string control does not hold output back forever', () => {
    const c = new OutputCleaner();
    assert.equal(c.push('a\x1b]'), 'a');
    const long = 'x'.repeat(5000);
    assert.ok(c.push(long).length >= 5000 - 4096);
    assert.equal(c.end().length, 0);
  });
});
