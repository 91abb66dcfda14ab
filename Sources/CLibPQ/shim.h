// The only C header Baton imports. Only the Postgres module imports CLibPQ.
#include <libpq-fe.h>
