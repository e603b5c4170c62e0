/**
 * @module upstream/watchBody
 * Passes a body through unchanged and says when it has been sent in full, failed, or been
 * abandoned by the client: the moment an origin slot can be given back.
 */
export function watchBody(body: ReadableStream<Uint8Array>): { stream: ReadableStream<Uint8Array>; ended: Promise<void> } {
  const reader = body.getReader();
  let end!: () => void;
  const ended = new Promise<void>((resolve) => (end = resolve));
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          controller.close();
          end();
        } else {
          controller.enqueue(value);
        }
      } catch (error) {
        controller.error(error);
        end();
      }
    },
    async cancel(reason) {
      end();
      await reader.cancel(reason).catch(() => {});
    },
  });
  return { stream, ended };
}
