/**
 * A modal the bot opened for this viewer (the remix prompt), as a native <dialog>: its text inputs in
 * either layout Discord accepts (action rows of text inputs, or labels wrapping one component each).
 */
import { h } from './dom.js';

/** Text inputs of a modal with their labels, whatever the layout. */
function textInputs(modal) {
  const inputs = [];
  for (const item of modal.components ?? []) {
    if (item.type === 1)
      for (const c of item.components ?? []) if (c.type === 4) inputs.push({ ...c, label: c.label });
    if (item.type === 18 && item.component?.type === 4)
      inputs.push({ ...item.component, label: item.label, description: item.description });
  }
  return inputs;
}

/**
 * Shows the modal and resolves when it is submitted (with `submit(values)` awaited) or dismissed.
 * `submit` rejects with the server's reason, which is shown in the dialog.
 */
export function showModal(shown, submit) {
  const inputs = textInputs(shown.modal);
  const error = h('p', { class: 'modal-error', role: 'alert', hidden: true });
  const fields = inputs.map((input) => {
    const props = {
      id: `modal-${input.custom_id}`,
      name: input.custom_id,
      required: input.required !== false,
      minlength: input.min_length,
      maxlength: input.max_length,
      placeholder: input.placeholder,
    };
    const control =
      input.style === 2 ? h('textarea', { ...props, rows: 4 }) : h('input', { ...props, type: 'text' });
    control.value = input.value ?? '';
    return {
      input,
      control,
      element: h(
        'div',
        { class: 'modal-field' },
        h(
          'label',
          { for: props.id },
          input.label,
          props.required ? h('span', { class: 'required' }, ' *') : null,
        ),
        input.description ? h('p', { class: 'modal-field-description' }, input.description) : null,
        control,
      ),
    };
  });
  const dialog = h(
    'dialog',
    { class: 'modal', 'aria-labelledby': 'modal-title' },
    h(
      'form',
      { method: 'dialog' },
      h('header', {}, h('h2', { id: 'modal-title' }, shown.title)),
      h(
        'div',
        { class: 'modal-fields' },
        fields.map((f) => f.element),
        error,
      ),
      h(
        'footer',
        {},
        h(
          'button',
          { type: 'button', class: 'text-button', value: 'cancel', onclick: () => dialog.close('cancel') },
          'Cancel',
        ),
        h('button', { type: 'submit', class: 'button primary', value: 'submit' }, 'Submit'),
      ),
    ),
  );
  return new Promise((resolve) => {
    dialog.querySelector('form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const values = Object.fromEntries(fields.map((f) => [f.input.custom_id, f.control.value]));
      try {
        await submit(values);
        dialog.close('submitted');
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
      }
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(dialog.returnValue);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
