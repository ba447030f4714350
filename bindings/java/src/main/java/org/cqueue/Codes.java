package org.cqueue;

import org.cqueue.swig.cqueueConstants;

/** The library's error codes, as {@link CqueueException#code()} returns them. */
public final class Codes {
    private Codes() {}

    public static final int OK = cqueueConstants.OK;
    public static final int EEMPTY = cqueueConstants.EEMPTY;
    public static final int EFULL = cqueueConstants.EFULL;
    public static final int ETIMEDOUT = cqueueConstants.ETIMEDOUT;
    public static final int EMSGSIZE = cqueueConstants.EMSGSIZE;
    public static final int EINVAL = cqueueConstants.EINVAL;
    public static final int ENOENT = cqueueConstants.ENOENT;
    public static final int EEXIST = cqueueConstants.EEXIST;
    public static final int EPERM = cqueueConstants.EPERM;
    public static final int ECORRUPT = cqueueConstants.ECORRUPT;
    public static final int EVERSION = cqueueConstants.EVERSION;
    public static final int ENOMEM = cqueueConstants.ENOMEM;
    public static final int EIO = cqueueConstants.EIO;
    public static final int ECLOSED = cqueueConstants.ECLOSED;
    public static final int ECANCELED = cqueueConstants.ECANCELED;
    public static final int EBUSY = cqueueConstants.EBUSY;
    public static final int EFOREIGN = cqueueConstants.EFOREIGN;
}
