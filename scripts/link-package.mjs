// Links node_modules/dotattn to the repository itself, so notebooks under
// notebooks/ can `import ... from "dotattn"`. tslab type-checks cells with
// TypeScript's node10 module resolution, which looks only in node_modules (it
// ignores a package's self-reference through its "exports" map).
// Runs as the npm "prepare" script, after every `npm ci` or `npm install`.
import { lstatSync, mkdirSync, symlinkSync, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const link = join(root, "node_modules", "dotattn");

mkdirSync(join(root, "node_modules"), { recursive: true });
try {
  if (lstatSync(link).isSymbolicLink()) unlinkSync(link);
} catch (error) {
  if (error.code !== "ENOENT") throw error;
}
symlinkSync("..", link, "dir");
console.log(`linked ${link} -> ${root}`);
