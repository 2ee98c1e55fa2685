/* A fixed pool of threads for CPU-bound jobs, with a bounded queue; results come back on the loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/event.h>

#include "workpool.h"
#include "xmalloc.h"

struct workpool_item {
    struct workpool_job job;
    TAILQ_ENTRY(workpool_item) link;
};

TAILQ_HEAD(workpool_list, workpool_item);

/*
 * The mutex guards the two lists, the counts and woken; the loop owns everything else. A
 * finished job goes to finished, and one byte down the pipe wakes the loop unless a byte
 * already waits for it (woken): the loop takes every finished job at each wake, so one byte
 * per drain is enough, and a byte per job cost a write, a wake-up and an epoll round for each
 * signature of a fan-out.
 */
struct workpool {
    struct event_base *base;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct workpool_list queue;    /* waiting for a thread */
    struct workpool_list finished; /* run, waiting for the loop */
    int queued, running, stopping;
    int woken; /* a byte is in the pipe that the loop has not yet answered */
    int nthreads, queue_max, started;
    int inflight; /* the loop's count: submitted, not yet delivered */
    pthread_t *threads;
    int fds[2];
    struct event *ev;
};

static void *
workpool_thread(void *arg)
{
    struct workpool *p = arg;
    char one = 1;

    for (;;) {
        struct workpool_item *it;
        int wake;

        pthread_mutex_lock(&p->mu);
        while (!p->stopping && TAILQ_EMPTY(&p->queue))
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stopping) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        it = TAILQ_FIRST(&p->queue);
        TAILQ_REMOVE(&p->queue, it, link);
        p->queued--;
        p->running++;
        pthread_mutex_unlock(&p->mu);
        it->job.run(it->job.arg);
        pthread_mutex_lock(&p->mu);
        p->running--;
        TAILQ_INSERT_TAIL(&p->finished, it, link);
        wake = !p->woken;
        p->woken = 1;
        pthread_mutex_unlock(&p->mu);
        while (wake && write(p->fds[1], &one, 1) < 0 && errno == EINTR)
            ;
    }
}

/* On the loop: every finished job's done, in the order they finished. */
static void
workpool_wake_cb(evutil_socket_t fd, short what, void *arg)
{
    struct workpool *p = arg;
    struct workpool_list done = TAILQ_HEAD_INITIALIZER(done);
    struct workpool_item *it;
    char buf[64];

    (void)what;
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
    pthread_mutex_lock(&p->mu);
    TAILQ_CONCAT(&done, &p->finished, link);
    p->woken = 0; /* a job finished from now on writes a byte again */
    pthread_mutex_unlock(&p->mu);
    while ((it = TAILQ_FIRST(&done)) != NULL) {
        TAILQ_REMOVE(&done, it, link);
        p->inflight--;
        it->job.done(it->job.arg);
        free(it);
    }
}

struct workpool *
workpool_new(struct event_base *base, int threads, int queue_max, char *err, size_t errlen)
{
    struct workpool *p = xcalloc(1, sizeof(*p));

    p->base = base;
    p->nthreads = threads > 0 ? threads : 1;
    p->queue_max = queue_max > 0 ? queue_max : 0;
    TAILQ_INIT(&p->queue);
    TAILQ_INIT(&p->finished);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->fds[0] = p->fds[1] = -1;
    if (pipe2(p->fds, O_CLOEXEC | O_NONBLOCK) < 0) {
        snprintf(err, errlen, "workpool: pipe: %s", strerror(errno));
        workpool_free(p);
        return NULL;
    }
    p->ev = event_new(base, p->fds[0], EV_READ | EV_PERSIST, workpool_wake_cb, p);
    event_add(p->ev, NULL);
    p->threads = xcalloc((size_t)p->nthreads, sizeof(*p->threads));
    for (; p->started < p->nthreads; p->started++)
        if (pthread_create(&p->threads[p->started], NULL, workpool_thread, p) != 0) {
            snprintf(err, errlen, "workpool: cannot start thread %d of %d", p->started + 1,
                     p->nthreads);
            workpool_free(p);
            return NULL;
        }
    return p;
}

int
workpool_submit(struct workpool *p, const struct workpool_job *job)
{
    struct workpool_item *it;

    pthread_mutex_lock(&p->mu);
    if (p->stopping || p->running + p->queued >= p->nthreads + p->queue_max) {
        pthread_mutex_unlock(&p->mu);
        return -1;
    }
    it = xcalloc(1, sizeof(*it));
    it->job = *job;
    TAILQ_INSERT_TAIL(&p->queue, it, link);
    p->queued++;
    p->inflight++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

int
workpool_inflight(const struct workpool *p)
{
    return p->inflight;
}

int
workpool_running(struct workpool *p)
{
    int n;

    pthread_mutex_lock(&p->mu);
    n = p->running;
    pthread_mutex_unlock(&p->mu);
    return n;
}

int
workpool_queued(struct workpool *p)
{
    int n;

    pthread_mutex_lock(&p->mu);
    n = p->queued;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void
workpool_free(struct workpool *p)
{
    struct workpool_item *it;

    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->started; i++)
        pthread_join(p->threads[i], NULL);
    /* The threads are gone: what never ran, and what ran but was never delivered. */
    TAILQ_CONCAT(&p->queue, &p->finished, link);
    while ((it = TAILQ_FIRST(&p->queue)) != NULL) {
        TAILQ_REMOVE(&p->queue, it, link);
        it->job.drop(it->job.arg);
        free(it);
    }
    if (p->ev != NULL)
        event_free(p->ev);
    if (p->fds[0] >= 0)
        close(p->fds[0]);
    if (p->fds[1] >= 0)
        close(p->fds[1]);
    free(p->threads);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}
