/**
 * Tests that need a component which cannot be installed without root
 * (Jupyter, Debian's dataset-fashion-mnist, Mesa's lavapipe). On a machine
 * without it such a test is skipped, and `deno test` shows one line naming
 * the component and the command that installs it:
 *
 *     <test name> [skipped: needs Jupyter; install: sudo apt-get ...] ... ignored
 *
 * With env `POF_REQUIRE_ALL=1` (set by `.ci/run`) nothing is skipped: the
 * test runs, and fails with that same line when the component is missing.
 *
 * @module
 */
import { debianFashionDir } from "../../lib/data/dataset_registry.ts";

/** A component a test may need. */
export interface Component {
  /** What it is, as a reader knows it. */
  name: string;
  /** The command that installs it. */
  install: string;
  /** Whether this machine has it. */
  present(): Promise<boolean>;
}

/** Python's Jupyter (nbclient, jupyter_client); the Deno kernel itself registers on first use. */
export const JUPYTER: Component = {
  name: "Jupyter (python3 with nbclient)",
  install:
    "sudo apt-get install jupyter-client python3-nbclient python3-ipykernel",
  present: async () => {
    // Loaded here only: the lib tests that use this module need no tools/.
    const { probeJupyter } = await import("../../tools/run_notebooks.ts");
    return (await probeJupyter()).python !== null;
  },
};

/** Debian's copy of Fashion-MNIST. */
export const DEBIAN_FASHION_MNIST: Component = {
  name: `Debian's dataset-fashion-mnist (${debianFashionDir()})`,
  install: "sudo apt-get install dataset-fashion-mnist",
  present: () => {
    try {
      return Promise.resolve(
        Deno.statSync(`${debianFashionDir()}/train-images-idx3-ubyte.gz`)
          .isFile,
      );
    } catch {
      return Promise.resolve(false);
    }
  },
};

/** A WebGPU adapter; on Linux without a GPU, Mesa's lavapipe provides one. */
export const LAVAPIPE: Component = {
  name: "a WebGPU adapter (Mesa's lavapipe)",
  install: "sudo apt-get install mesa-vulkan-drivers",
  present: async () => {
    const gpu = (navigator as unknown as {
      gpu?: { requestAdapter(): Promise<unknown> };
    }).gpu;
    return !!(gpu && await gpu.requestAdapter().catch(() => null));
  },
};

/** Whether env `POF_REQUIRE_ALL=1` forbids skipping. */
export function requireAll(): boolean {
  return Deno.env.get("POF_REQUIRE_ALL") === "1";
}

/**
 * The one line that names a missing component and how to install it.
 *
 * @example
 * ```ts
 * import { JUPYTER, missingLine } from "./optional.ts";
 * if (!missingLine(JUPYTER).includes("apt-get install jupyter-client")) throw new Error();
 * ```
 */
export function missingLine(c: Component): string {
  return `needs ${c.name}; install: ${c.install}`;
}

/**
 * Registers `def` as a test that needs `component`: run as is when the
 * component is there; when it is missing, ignored with a name that carries
 * {@link missingLine}, or, under `POF_REQUIRE_ALL=1`, a test that fails with
 * that line.
 */
export async function testNeeding(
  component: Component,
  def: { name: string; fn: () => void | Promise<void> },
): Promise<void> {
  if (await component.present()) {
    Deno.test(def);
  } else if (requireAll()) {
    Deno.test({
      name: def.name,
      fn: () => {
        throw new Error(
          `POF_REQUIRE_ALL=1 and this test ${missingLine(component)}`,
        );
      },
    });
  } else {
    Deno.test({
      name: `${def.name} [skipped: ${missingLine(component)}]`,
      ignore: true,
      fn: def.fn,
    });
  }
}
