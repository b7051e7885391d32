/**
 * The renderer widget that JupyterLab creates for each output holding the
 * attention MIME type.
 */
import type { IRenderMime } from '@jupyterlab/rendermime';
import { Widget } from '@lumino/widgets';

import { validatePayload } from './payload.js';
import type { AttentionView } from './view.js';

/** The CSS class of the renderer's root node. */
const RENDERER_CLASS = 'jp-DotattnRenderer';

/**
 * Builds the styled message shown instead of the heatmap when the payload is
 * rejected or drawing fails. The field path and message go in as text only.
 */
export function createErrorMessage(error: unknown): HTMLDivElement {
  const box = document.createElement('div');
  box.className = 'jp-DotattnView-error';
  box.setAttribute('role', 'alert');

  const heading = document.createElement('div');
  heading.className = 'jp-DotattnView-errorHeading';
  heading.textContent = 'Cannot draw this attention payload';
  box.appendChild(heading);

  const field =
    typeof error === 'object' && error !== null && 'field' in error
      ? String((error as { field: unknown }).field)
      : null;
  if (field !== null) {
    box.setAttribute('data-field', field);
    const fieldLine = document.createElement('div');
    fieldLine.className = 'jp-DotattnView-errorField';
    fieldLine.append('Failing field: ');
    const code = document.createElement('code');
    code.textContent = field;
    fieldLine.appendChild(code);
    box.appendChild(fieldLine);
  }

  const detail = document.createElement('pre');
  detail.className = 'jp-DotattnView-errorDetail';
  detail.textContent =
    error instanceof Error ? error.message : `Unexpected error: ${String(error)}`;
  box.appendChild(detail);

  const hint = document.createElement('div');
  hint.className = 'jp-DotattnView-errorHint';
  hint.textContent =
    'The output must follow the dotattn attention payload schema, version 1: queryTokens (L strings), keyTokens (S strings) and layers of heads whose weights are L rows of S numbers in [0, 1], with L and S at most 512.';
  box.appendChild(hint);
  return box;
}

/**
 * Renders `application/vnd.dotattn.attention+json`. Each call to
 * `renderModel` disposes the previous view before drawing the new one, and
 * every failure becomes a message in the output instead of an exception.
 */
export class AttentionRenderer extends Widget implements IRenderMime.IRenderer {
  private readonly mimeType: string;
  private view: AttentionView | null = null;
  private renderCount = 0;

  constructor(options: IRenderMime.IRendererOptions) {
    super();
    this.mimeType = options.mimeType;
    this.addClass(RENDERER_CLASS);
  }

  /** Validates the model's payload and draws it, or shows why it cannot. */
  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const renderId = ++this.renderCount;
    this.clear();
    try {
      const payload = validatePayload(model.data[this.mimeType]);
      // The drawing code loads on first use, as JupyterLab's own renderers do.
      const { AttentionView } = await import('./view.js');
      if (this.isDisposed || renderId !== this.renderCount) {
        return;
      }
      this.view = new AttentionView(payload);
      this.node.appendChild(this.view.node);
      if (this.isAttached) {
        this.view.refresh();
      }
    } catch (error) {
      if (this.isDisposed || renderId !== this.renderCount) {
        return;
      }
      this.clear();
      this.node.appendChild(createErrorMessage(error));
    }
  }

  /** Disposes the view with the widget. */
  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.clear();
    super.dispose();
  }

  protected onAfterAttach(): void {
    this.view?.refresh();
  }

  private clear(): void {
    this.view?.dispose();
    this.view = null;
    this.node.replaceChildren();
  }
}
