package org.ccalab.scheduler.system;

import org.ccalab.scheduler.dispatch.Dispatcher;
import org.ccalab.scheduler.sweep.SweepLauncher;
import org.ccalab.scheduler.watchdog.Watchdog;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.scheduling.annotation.EnableScheduling;
import org.springframework.scheduling.annotation.SchedulingConfigurer;
import org.springframework.scheduling.concurrent.ThreadPoolTaskScheduler;
import org.springframework.scheduling.config.ScheduledTaskRegistrar;

/**
 * The three loops, at the intervals of {@link SchedulerProperties.Loops}, on a scheduler of their own
 * (a thread each) so a long sweep job never delays dispatch or the watchdog, and so the api's and the
 * worker's contexts in the launcher's JVM keep their own schedulers.
 */
@Configuration(proxyBeanMethods = false)
@EnableScheduling
class SchedulingConfig implements SchedulingConfigurer {
    private static final Logger log = LoggerFactory.getLogger(SchedulingConfig.class);

    private final SchedulerProperties properties;
    private final Dispatcher dispatcher;
    private final Watchdog watchdog;
    private final SweepLauncher sweeps;
    private final ThreadPoolTaskScheduler loops;

    SchedulingConfig(SchedulerProperties properties, Dispatcher dispatcher, Watchdog watchdog, SweepLauncher sweeps,
                     ThreadPoolTaskScheduler schedulerLoops) {
        this.properties = properties;
        this.dispatcher = dispatcher;
        this.watchdog = watchdog;
        this.sweeps = sweeps;
        this.loops = schedulerLoops;
    }

    @Override
    public void configureTasks(ScheduledTaskRegistrar registrar) {
        registrar.setTaskScheduler(loops);
        SchedulerProperties.Loops l = properties.loops();
        if (l.dispatch()) registrar.addFixedDelayTask(guard("dispatch", dispatcher::tick), l.dispatchInterval());
        if (l.watchdog()) registrar.addFixedDelayTask(guard("watchdog", watchdog::tick), l.watchdogInterval());
        if (l.sweep()) registrar.addFixedDelayTask(guard("sweep", sweeps::tick), l.sweepInterval());
    }

    private static Runnable guard(String loop, Runnable body) {
        return () -> {
            try {
                body.run();
            } catch (RuntimeException e) {
                // A transient fault (database restarting, broker unreachable) must not end the loop.
                log.warn("{} loop failed, retrying next tick: {}", loop, e.toString());
            }
        };
    }

    @Bean(destroyMethod = "shutdown")
    static ThreadPoolTaskScheduler schedulerLoops() {
        var scheduler = new ThreadPoolTaskScheduler();
        scheduler.setPoolSize(3);
        scheduler.setThreadNamePrefix("scheduler-loop-");
        scheduler.setWaitForTasksToCompleteOnShutdown(true);
        scheduler.setAwaitTerminationSeconds(10);
        return scheduler;
    }
}
