/**
 * The dotattn-jupyter mime renderer extension: JupyterLab registers its
 * factory with the rendermime registry, so notebooks and output views draw
 * `application/vnd.dotattn.attention+json` with {@link AttentionRenderer}.
 */
import type { IRenderMime } from '@jupyterlab/rendermime';

import { ATTENTION_MIME_TYPE } from './payload.js';
import { AttentionRenderer } from './widget.js';

export { ATTENTION_MIME_TYPE, validatePayload } from './payload.js';
export type { AttentionPayload } from './payload.js';
export { AttentionRenderer } from './widget.js';

/**
 * The renderer factory. It is safe: the renderer treats tokens as text and
 * runs no code from the payload, so untrusted notebooks show the view too.
 */
export const rendererFactory: IRenderMime.IRendererFactory = {
  safe: true,
  mimeTypes: [ATTENTION_MIME_TYPE],
  createRenderer: options => new AttentionRenderer(options)
};

/** The mime renderer extension that JupyterLab loads from this package. */
const extension: IRenderMime.IExtension = {
  id: 'dotattn-jupyter:attention',
  description: 'Renders dotattn attention weights as an interactive heatmap.',
  rendererFactory,
  // A lower rank wins. Rank 0 puts this view ahead of text/html (rank 50) and
  // text/plain (rank 120), which a bundle may carry as fallbacks for other frontends.
  rank: 0,
  dataType: 'json'
};

export default extension;
