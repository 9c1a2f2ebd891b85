#!/usr/bin/env node
// smtpd runs table-BACKEND with argv[1] = the path after `cloudtable:` in
// smtpd.conf. The table name (smtpd's argv[0]) is lost to the interpreter,
// but smtpd sends it again in the handshake. Installed as one CommonJS file
// (scripts/bundle-table-process.ts), so no top-level await here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const args = process.argv.slice(2);
if (args.length === 1 && !args[0]!.startsWith('-')) {
  // As smtpd.conf runs it (one configuration path, which wins over any
  // other source): straight to the command, without the command-line
  // parser (10 ms and 2 MiB a table process), which the failure report
  // alone loads. Anything else goes through the command line.
  import('../commands/smtpd.js')
    .then(({ smtpdCommand }) => smtpdCommand(args[0], {}))
    .catch(async (err: unknown) => {
      const { exitCodeOf, reportFailure } = await import('../commands/exit-codes.js');
      reportFailure(undefined, err);
      process.exit(exitCodeOf(err));
    });
} else {
  void import('../cli.js').then(({ main }) => main([process.argv[0]!, process.argv[1]!, 'smtpd', ...args]));
}

export {};
