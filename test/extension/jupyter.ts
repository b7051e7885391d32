// Starts and stops a private JupyterLab server from the repository's .venv for
// the extension's end-to-end test. It listens on 127.0.0.1 only, with a random
// free port and token and temporary root, settings, workspace and config
// directories. The "Jupyter news" prompt is off so that it does not cover the page.

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** The repository root. */
export const REPO_ROOT = resolve(import.meta.dirname, "../..");

/** The repository's Python environment, which contains JupyterLab and the extension. */
export const VENV_BIN = join(REPO_ROOT, ".venv", "bin");

/** Limit for the server to start; the first start after an install compiles Python bytecode. */
const START_TIMEOUT_MS = 180_000;

/** A running server and how to reach it. */
export interface JupyterServer {
  /** The base URL, such as `http://127.0.0.1:8123`. */
  baseUrl: string;
  /** The token that every request must carry. */
  token: string;
  /** The directory that the server shows as its root. */
  rootDir: string;
  /** The server's stdout and stderr so far, for failure messages. */
  log: () => string;
  /** Stops the server and its kernels, then removes the temporary directories. */
  stop: () => Promise<void>;
}

/** Asks the OS for a free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === "object") {
          resolvePort(address.port);
        } else {
          reject(new Error(`freePort: no port in address ${String(address)}`));
        }
      });
    });
  });
}

function writeUserSettings(settingsDir: string): void {
  const notificationDir = join(settingsDir, "@jupyterlab", "apputils-extension");
  mkdirSync(notificationDir, { recursive: true });
  // "false" is "Never": no news prompt, no news or update requests.
  writeFileSync(
    join(notificationDir, "notification.jupyterlab-settings"),
    JSON.stringify({ fetchNews: "false", checkForUpdates: false }),
  );
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve(true);
  }
  return new Promise((resolveExit) => {
    const timer = setTimeout(() => resolveExit(false), timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolveExit(true);
    });
  });
}

/**
 * Starts `jupyter lab` with `files` copied into a temporary root directory and
 * resolves once the server prints that it is running.
 *
 * @throws {Error} when the server exits or does not start in time; the message contains its log.
 */
export async function startJupyterLab(files: readonly string[]): Promise<JupyterServer> {
  const workDir = mkdtempSync(join(tmpdir(), "dotattn-jupyterlab-"));
  const rootDir = join(workDir, "root");
  const settingsDir = join(workDir, "settings");
  const workspacesDir = join(workDir, "workspaces");
  const configDir = join(workDir, "config");
  const runtimeDir = join(workDir, "runtime");
  for (const dir of [rootDir, settingsDir, workspacesDir, configDir, runtimeDir]) {
    mkdirSync(dir, { recursive: true });
  }
  for (const file of files) {
    cpSync(file, join(rootDir, file.split("/").pop() as string));
  }
  writeUserSettings(settingsDir);

  const port = await freePort();
  const token = randomBytes(24).toString("hex");
  const args = [
    "lab",
    "--ServerApp.ip=127.0.0.1",
    `--ServerApp.port=${port}`,
    "--ServerApp.port_retries=0",
    `--IdentityProvider.token=${token}`,
    "--ServerApp.open_browser=False",
    `--ServerApp.root_dir=${rootDir}`,
    `--LabApp.user_settings_dir=${settingsDir}`,
    `--LabApp.workspaces_dir=${workspacesDir}`,
    // Lets the test switch themes through JupyterLab's own command.
    "--LabApp.expose_app_in_browser=True",
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
  ];
  if (process.getuid?.() === 0) {
    args.push("--allow-root");
  }
  const child = spawn(join(VENV_BIN, "jupyter"), args, {
    cwd: rootDir,
    env: {
      ...process.env,
      // tslab lives in node_modules/.bin; kernels of the fixture notebooks start from there.
      PATH: `${join(REPO_ROOT, "node_modules", ".bin")}:${VENV_BIN}:${process.env.PATH ?? ""}`,
      JUPYTER_CONFIG_DIR: configDir,
      JUPYTER_RUNTIME_DIR: runtimeDir,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });

  let log = "";
  const append = (chunk: Buffer): void => {
    log += chunk.toString();
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      if (!(await waitForExit(child, 20_000))) {
        child.kill("SIGKILL");
        await waitForExit(child, 5_000);
      }
    }
    rmSync(workDir, { recursive: true, force: true });
  };

  const started = await new Promise<boolean>((resolveStart) => {
    const timer = setTimeout(() => resolveStart(false), START_TIMEOUT_MS);
    const check = (): void => {
      if (log.includes(`http://127.0.0.1:${port}/`)) {
        clearTimeout(timer);
        resolveStart(true);
      }
    };
    child.stdout?.on("data", check);
    child.stderr?.on("data", check);
    child.once("exit", () => {
      clearTimeout(timer);
      resolveStart(false);
    });
  });
  if (!started) {
    await stop();
    throw new Error(
      `startJupyterLab: the server did not start on 127.0.0.1:${port} within ${START_TIMEOUT_MS} ms; its log:\n${log}`,
    );
  }
  return { baseUrl: `http://127.0.0.1:${port}`, token, rootDir, log: () => log, stop };
}
