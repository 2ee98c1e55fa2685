/* application/x-www-form-urlencoded bodies (OAuth 2.0 requests), built one field at a time. */
#ifndef PASSERELLE_FORM_H
#define PASSERELLE_FORM_H

/*
 * Appends "&name=value" (no "&" when *buf is NULL or empty) to a form body, percent-encoding
 * value (name is written as it is). The old buffer is wiped before it is freed: forms carry
 * secrets, so no copy is left behind. *buf is newly allocated.
 */
void form_add(char **buf, const char *name, const char *value);

#endif
