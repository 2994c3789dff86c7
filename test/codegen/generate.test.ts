/**
 * The code generator: code named in stack traces, one function per layout, and the off switch, both
 * by SLUICE_JITLESS and by a Node that refuses to make code from strings.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GeneratedCode, generate } from '../../src/codegen/generate.ts';
import { codeGenerationAllowed, codeGenerationEnabled } from '../../src/codegen/switch.ts';
import { withCodeGeneration } from '../support/codegen.ts';

const run = promisify(execFile);

describe('generated code', () => {
  test('is named sluice-generated/<name>.js in stack traces, and reaches its helpers by name', () => {
    const fail = generate<(value: number) => number>('probe-0badc0de', { twice: (value: number) => value * 2 }, 'return function probe(value) { if (value < 0) throw new RangeError("negative"); return twice(value); };');
    assert.equal(fail(21), 42);
    assert.throws(() => fail(-1), (error: Error) => {
      assert.match(error.stack ?? '', /at probe \(sluice-generated\/probe-0badc0de\.js:\d+:\d+\)/);
      return true;
    });
  });

  test('refuses a helper name that is not an identifier', () => {
    assert.throws(() => generate('bad', { 'a-b': 1 }, 'return 1;'), /not a helper name: a-b/);
  });

  test('one function per layout, built once, named after a hash of the layout', () =>
    withCodeGeneration(true, () => {
      const names: string[] = [];
      const code = new GeneratedCode<{ width: number; lo: number }, () => number>('probe', (layout, name) => {
        names.push(name);
        return generate(name, {}, `return () => ${layout.width};`);
      });
      const first = code.get({ width: 3, lo: -Infinity })!;
      assert.equal(first(), 3);
      assert.equal(code.get({ width: 3, lo: -Infinity }), first, 'the same layout shares its function');
      assert.notEqual(code.get({ width: 3, lo: 0 }), first, 'an infinite bound is not a null one');
      assert.equal(names.length, 2);
      assert.match(names[0], /^probe-[0-9a-f]{8}$/);
      assert.notEqual(names[0], names[1]);
    }));

  test('SLUICE_JITLESS=1 switches it off: no code is built', async () => {
    let built = 0;
    const code = new GeneratedCode<number, number>('probe', (layout) => (built++, layout));
    await withCodeGeneration(false, async () => {
      assert.equal(codeGenerationEnabled(), false);
      assert.equal(code.get(1), null);
    });
    assert.equal(built, 0);
    await withCodeGeneration(true, () => {
      assert.equal(codeGenerationEnabled(), true, 'and back on when the variable is gone');
      assert.equal(code.get(1), 1);
    });
    await withCodeGeneration(true, async () => {
      process.env.SLUICE_JITLESS = '0';
      assert.equal(codeGenerationEnabled(), true, 'SLUICE_JITLESS=0 leaves it on');
    });
  });

  test('a Node started with --disallow-code-generation-from-strings is found to refuse it, and nothing is built', async () => {
    const script = `
      import { GeneratedCode, generate } from ${JSON.stringify(fileURLToPath(new URL('../../src/codegen/generate.ts', import.meta.url)))};
      import { codeGenerationAllowed } from ${JSON.stringify(fileURLToPath(new URL('../../src/codegen/switch.ts', import.meta.url)))};
      const code = new GeneratedCode('probe', (layout, name) => generate(name, {}, 'return () => 1;'));
      console.log(JSON.stringify({ allowed: codeGenerationAllowed(), built: code.get(1) !== null }));`;
    for (const [flags, expected] of [[[], { allowed: true, built: true }], [['--disallow-code-generation-from-strings'], { allowed: false, built: false }]] as const) {
      const { stdout } = await run(process.execPath, [...flags, '--import', 'tsx', '--input-type=module', '-e', script], { env: { ...process.env, SLUICE_JITLESS: '' } });
      assert.deepEqual(JSON.parse(stdout), expected, flags.join(' ') || 'no flags');
    }
  });

  test('a generator that fails otherwise is a bug, thrown, not a refusal', () =>
    withCodeGeneration(true, () => {
      const broken = new GeneratedCode<number, number>('probe', () => generate('probe-broken', {}, 'return function (;'));
      assert.throws(() => broken.get(1), SyntaxError);
      assert.equal(codeGenerationAllowed(), true);
    }));

  // Last: it leaves this process without code generation.
  test('a host that refuses code after the probe allowed it is remembered as refusing: null now, and no more code after', () =>
    withCodeGeneration(true, () => {
      const refused = new GeneratedCode<number, number>('probe', () => {
        throw new EvalError('Code generation from strings disallowed for this context');
      });
      assert.equal(refused.get(1), null);
      assert.equal(codeGenerationAllowed(), false);
      assert.equal(new GeneratedCode<number, number>('probe', (layout) => layout).get(2), null);
      const broken = new GeneratedCode<number, number>('probe', () => {
        throw new SyntaxError('a bug in the generator');
      });
      assert.equal(broken.get(1), null, 'nothing is built once refused');
    }));
});
