package org.ccalab.launcher.platform;

/**
 * The platform's Spring applications. Each runs as a context of its own in the launcher's JVM; the scheduler
 * and the api are found by name so that the launcher does not depend on their internals.
 */
enum Service {
    SCHEDULER("org.ccalab.scheduler.SchedulerApplication"),
    WORKER("org.ccalab.worker.WorkerApplication"),
    API("org.ccalab.api.ApiApplication");

    private final String mainClass;

    Service(String mainClass) {
        this.mainClass = mainClass;
    }

    Class<?> mainClass() {
        try {
            return Class.forName(mainClass);
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException(name().toLowerCase() + " is not on the classpath: " + mainClass, e);
        }
    }
}
