package org.ccalab.worker.system;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.UUID;
import org.springframework.stereotype.Component;

/** Who this worker is: its id on every event and status, and its own consumer group on runs.control. */
@Component
public class WorkerIdentity {
    private final String id;
    private final String host;

    public WorkerIdentity(WorkerProperties properties) {
        this.host = hostName();
        this.id = properties.id() == null || properties.id().isBlank()
                ? host + "-" + UUID.randomUUID().toString().substring(0, 8)
                : properties.id();
    }

    public String id() {
        return id;
    }

    public String host() {
        return host;
    }

    /** Every worker must see every control message, so each has a group of its own. */
    public String controlGroup() {
        return "gpu-worker-control-" + id;
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "unknown";
        }
    }
}
