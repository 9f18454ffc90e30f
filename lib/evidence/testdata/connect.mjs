// Test helper: one TCP connect attempt, classified. Usage: node connect.mjs IP PORT [SRC_ADDR] [TIMEOUT_MS]
// Prints one word (connected | refused | reset | timeout | unreachable | error:<code>) and exits 0.
import net from 'node:net';
import process from 'node:process';

const [ip, port, src, timeoutArg] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg ?? 500);
const opts = { host: ip, port: Number(port) };
if (src) opts.localAddress = src;
const sock = net.connect(opts);
let done = false;
function finish(word) {
  if (done) return;
  done = true;
  process.stdout.write(word + '\n');
  sock.destroy();
  process.exit(0);
}
sock.setTimeout(timeoutMs, () => finish('timeout'));
sock.on('connect', () => finish('connected'));
sock.on('error', (e) => {
  if (e.code === 'ECONNREFUSED') finish('refused');
  else if (e.code === 'ECONNRESET') finish('reset');
  else if (e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH') finish('unreachable');
  else finish('error:' + e.code);
});
