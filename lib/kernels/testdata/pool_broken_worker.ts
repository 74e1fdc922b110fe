/**
 * Test helper: a kernel pool Worker script that fails while loading (see
 * `parallel_test.ts`).
 *
 * @module
 */
throw new Error("this Worker fails on purpose");
