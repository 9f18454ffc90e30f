// Test helper: a TCP listener that accepts and closes. Usage: node listen.mjs IP PORT
// Prints "listening" once bound; exits when stdin closes (its parent went away) or on SIGTERM.
import net from 'node:net';
import process from 'node:process';

const [ip, port] = process.argv.slice(2);
const server = net.createServer((c) => c.end());
server.listen(Number(port), ip, () => process.stdout.write('listening\n'));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
