import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join, relative, isAbsolute, sep } from 'node:path';
import type { ScanError } from './finding.js';

/** One file to scan. */
export interface WalkEntry {
  /** Path as it will be reported: the user's argument, joined with the walked sub-path. */
  path: string;
  /**
   * True when the user named this file directly. A named file that turns out
   * not to be a model format is an error; one found by walking is only counted.
   */
  explicit: boolean;
}

export interface WalkResult {
  files: WalkEntry[];
  /** Paths that could not be walked (missing, unreadable, not a regular file). */
  errors: ScanError[];
}

/** Directory names never descended into. */
const SKIP_DIRS = new Set(['.git']);

/**
 * Expand files and directories into the list of regular files to scan.
 * Never throws for a bad path: it becomes an entry in `errors`.
 *
 * Symlinks: a link to a file is scanned (reported under the link's path); a
 * link to a directory is followed only when it stays inside the tree being
 * walked, and every directory is entered once (by real path), so link loops
 * end. Named files that are not regular files (FIFOs, devices, sockets) are
 * errors, because reading them could block or never end; found ones are
 * ignored. Nothing is opened here: format sniffing is the scanner's job.
 */
export async function walk(paths: string[]): Promise<WalkResult> {
  const files: WalkEntry[] = [];
  const errors: ScanError[] = [];
  const seenFiles = new Set<string>();

  const addFile = async (path: string, explicit: boolean): Promise<void> => {
    let key: string;
    try {
      key = await realpath(path);
    } catch {
      key = path;
    }
    if (seenFiles.has(key)) {
      // The same file named twice, or reached through a link: scan it once,
      // but let an explicit naming win so "unsupported format" is still reported.
      if (explicit) {
        const prev = files.find((f) => f.path === path);
        if (prev) prev.explicit = true;
      }
      return;
    }
    seenFiles.add(key);
    files.push({ path, explicit });
  };

  for (const given of paths) {
    let st;
    try {
      st = await stat(given);
    } catch (e) {
      errors.push({ file: given, location: given, message: describeFsError(e, given) });
      continue;
    }
    if (st.isDirectory()) {
      let root: string;
      try {
        root = await realpath(given);
      } catch (e) {
        errors.push({ file: given, location: given, message: describeFsError(e, given) });
        continue;
      }
      await walkDir(given, root, new Set([root]), files, errors, addFile);
    } else if (st.isFile()) {
      await addFile(given, true);
    } else {
      errors.push({
        file: given,
        location: given,
        message: `${given} is not a regular file or directory (FIFO, socket or device); name a model file or a directory.`,
      });
    }
  }
  return { files, errors };
}

async function walkDir(
  dir: string,
  root: string,
  visited: Set<string>,
  files: WalkEntry[],
  errors: ScanError[],
  addFile: (path: string, explicit: boolean) => Promise<void>,
): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    errors.push({ file: dir, location: dir, message: describeFsError(e, dir) });
    return;
  }
  // Sorted so that output order does not depend on the file system.
  names.sort();
  for (const name of names) {
    const path = join(dir, name);
    let lst;
    try {
      lst = await lstat(path);
    } catch (e) {
      errors.push({ file: path, location: path, message: describeFsError(e, path) });
      continue;
    }
    if (lst.isDirectory()) {
      if (SKIP_DIRS.has(name)) continue;
      let real: string;
      try {
        real = await realpath(path);
      } catch (e) {
        errors.push({ file: path, location: path, message: describeFsError(e, path) });
        continue;
      }
      if (visited.has(real)) continue;
      visited.add(real);
      await walkDir(path, root, visited, files, errors, addFile);
    } else if (lst.isFile()) {
      await addFile(path, false);
    } else if (lst.isSymbolicLink()) {
      let target;
      let real: string;
      try {
        target = await stat(path);
        real = await realpath(path);
      } catch {
        // A dangling link inside a tree is not the user's concern: skip it quietly.
        continue;
      }
      if (target.isFile()) {
        await addFile(path, false);
      } else if (target.isDirectory()) {
        if (SKIP_DIRS.has(name) || !isInside(real, root) || visited.has(real)) continue;
        visited.add(real);
        await walkDir(path, root, visited, files, errors, addFile);
      }
      // Links to FIFOs/devices are ignored like the things themselves.
    }
    // FIFOs, sockets and devices found by walking are ignored.
  }
}

function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (rel !== '..' && !rel.startsWith('..' + sep) && !isAbsolute(rel));
}

function describeFsError(e: unknown, path: string): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'ENOENT':
      return `${path}: no such file or directory; check the path.`;
    case 'EACCES':
    case 'EPERM':
      return `${path}: permission denied; run with access to it or leave it out.`;
    case 'ELOOP':
      return `${path}: too many levels of symbolic links.`;
    case 'ENOTDIR':
      return `${path}: a component of the path is not a directory; check the path.`;
    default:
      return `${path}: ${(e as Error)?.message ?? String(e)}`;
  }
}
