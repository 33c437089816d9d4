package org.ccalab.scheduler.support;

import org.springframework.beans.factory.support.DefaultListableBeanFactory;
import org.springframework.boot.test.util.TestPropertyValues;
import org.springframework.context.ApplicationContextInitializer;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * Points the context at a fresh database. The database is registered as the context's first disposable
 * bean, and disposables are destroyed in reverse order, so it is dropped after the pool and the
 * listeners that use it have shut down.
 */
public class FreshDatabaseInitializer implements ApplicationContextInitializer<ConfigurableApplicationContext> {
    @Override
    public void initialize(ConfigurableApplicationContext context) {
        FreshDatabase db = new FreshDatabase("ccalab_scheduler_test");
        TestPropertyValues.of("spring.datasource.url=" + db.url(), "spring.datasource.username=" + FreshDatabase.USER,
                "spring.datasource.password=" + FreshDatabase.PASSWORD).applyTo(context);
        ((DefaultListableBeanFactory) context.getBeanFactory()).registerDisposableBean("freshDatabase", db);
    }
}
