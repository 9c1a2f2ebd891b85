// Preload for profiling a process the benchmarks start (`node --cpu-prof` is
// refused in NODE_OPTIONS): `NODE_OPTIONS="--import ./bench/lib/cpu-profile.mjs"`
// with CPU_PROFILE_DIR set writes DIR/PID.cpuprofile when the process exits
// normally
// (chrome://inspect or speedscope open it). Benchmarks only; never in the proxy.

import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 100 });
  session.post('Profiler.start');
  let written = false;
  const write = () => {
    if (written) return;
    written = true;
    session.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  };
  // Written at a normal exit only (stdin's end for a table process, SIGTERM's own handler for sockmap): a kill -9 leaves none.
  process.on('exit', write);
}
