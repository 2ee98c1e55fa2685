/* Which scheme a request signs with, and its parser: the top of the HTTP signature module. */
#include "httpsig.h"
#include "httpsig_internal.h"

enum httpsig_result
httpsig_parse_request(const struct httpsig_request *req, struct httpsig *out, char *err,
                      size_t errlen)
{
    const char *input = req->header(req->ctx, "signature-input");
    const char *sig = req->header(req->ctx, "signature");

    if (input != NULL)
        return rfc9421_parse(input, sig, out, err, errlen);
    return cavage_parse(sig, out, err, errlen);
}
