import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * The words of the type errors users meet first, not only that there is one (module-options.types.ts
 * checks that): each snippet is compiled with the repository's tsconfig, as a file of test/types/.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));

const SNIPPETS = {
  neither: "LeaderElectionModule.forRoot({ identity: 'pod-a' });",
  autoWithoutLease: "LeaderElectionModule.forRoot({ backend: 'auto', drainTimeoutMs: 5000 });",
  factoryWithNeither: "LeaderElectionModule.forRootAsync({ useFactory: () => ({ identity: 'pod-a' }) });",
  leaseWithoutLease: "LeaderElectionModule.forRoot({ backend: 'lease' });",
  good: "LeaderElectionModule.forRoot({ lease: { name: 'app-leader' } });\nLeaderElectionModule.forRoot({ backend: 'standalone', onStartedLeading: ({ term, signal }) => void [term, signal.aborted] });",
};

/** Compiles every snippet once, each as its own file of test/types/; its errors, by snippet. */
function compileSnippets(): Record<keyof typeof SNIPPETS, string[]> {
  const { config } = ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, root);
  const files = new Map(Object.entries(SNIPPETS).map(([name, snippet]) => [
    join(root, `test/types/${name}.snippet.ts`),
    `import { LeaderElectionModule } from 'nestjs-cluster-leader';\n${snippet}\n`,
  ]));
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (name) => files.get(name) ?? readFile(name);
  host.fileExists = (name) => files.has(name) || ts.sys.fileExists(name);
  host.getSourceFile = (name, version, ...rest) =>
    files.has(name) ? ts.createSourceFile(name, files.get(name)!, version) : getSourceFile(name, version, ...rest);
  const program = ts.createProgram([...files.keys()], { ...options, noEmit: true }, host);
  return Object.fromEntries(Object.keys(SNIPPETS).map((name) => [
    name,
    ts.getPreEmitDiagnostics(program, program.getSourceFile(join(root, `test/types/${name}.snippet.ts`))).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')),
  ])) as Record<keyof typeof SNIPPETS, string[]>;
}

let errors: Record<keyof typeof SNIPPETS, string[]>;
beforeAll(() => {
  errors = compileSnippets();
}, 60_000);

describe('type errors of forRoot()', () => {
  it.each([
    ['options with neither backend nor lease', 'neither'],
    ["backend 'auto' without lease", 'autoWithoutLease'],
    ['a factory result with neither', 'factoryWithNeither'],
  ] as const)('%s: say that lease.name is required, and the alternatives', (_case, snippet) => {
    expect(errors[snippet]).toHaveLength(1);
    expect(errors[snippet][0]).toContain("lease.name is required: backend 'auto' (the default) holds a Lease inside Kubernetes");
    expect(errors[snippet][0]).toContain("or choose backend 'standalone', 'sidecar' or 'lease'");
  });

  it('still name the missing lease for backend lease, and compile good options', () => {
    expect(errors.leaseWithoutLease[0]).toContain("Property 'lease' is missing");
    expect(errors.good).toEqual([]);
  });
});
