package org.ccalab.common.variant;

/** Which centroid a key joins in OVQ's fold (ovq.md section 4 step 1, open question 2). */
public enum OvqAssignment {
    /** argmin ||k - mu_j||^2, the k-means / hard-EM rule (the spec's default). */
    EUCLIDEAN,
    /** argmax k . mu_j. */
    DOT
}
