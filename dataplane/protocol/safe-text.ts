/**
 * Text that names things (nodes, streams) and is shown to operators: no control
 * characters (C0, DEL, C1) and no bidirectional formatting characters (U+061C,
 * U+200E/U+200F, U+202A–U+202E, U+2066–U+2069), which can make a name read as another
 * in a console, a log or a terminal ("Trojan Source").
 */
const UNSAFE_TEXT = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/** True when `text` holds a control or bidirectional formatting character. */
export function hasUnsafeText(text: string): boolean {
  return UNSAFE_TEXT.test(text);
}

/** The message every refusal of such a name uses. */
export const UNSAFE_TEXT_MESSAGE = 'must not contain control or bidirectional formatting characters';
