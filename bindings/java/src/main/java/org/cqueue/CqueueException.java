package org.cqueue;

import org.cqueue.swig.cqueue;

/** A libcqueue failure: {@link #code()} is the negative CQ_E* code (see {@link Codes}). */
public class CqueueException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int code;
    private final String detail;

    public CqueueException(int code, String detail) {
        super(message(code, detail));
        this.code = code;
        this.detail = detail == null ? "" : detail;
    }

    private static String message(int code, String detail) {
        String text = cqueue.cqb_strerror(code);
        return detail == null || detail.isEmpty() || detail.equals(text) ? text : text + ": " + detail;
    }

    /** The exception for a failed facade call, with the calling thread's detail text. */
    static CqueueException last(int code) {
        return new CqueueException(code, cqueue.cqb_last_error());
    }

    static int check(int rc) {
        if (rc < 0) throw last(rc);
        return rc;
    }

    public int code() {
        return code;
    }

    public String detail() {
        return detail;
    }

    public boolean isFull() {
        return code == Codes.EFULL;
    }

    public boolean isEmpty() {
        return code == Codes.EEMPTY;
    }

    public boolean isTimeout() {
        return code == Codes.ETIMEDOUT;
    }
}
